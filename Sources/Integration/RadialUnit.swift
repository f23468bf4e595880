/// The radial coordinate of an integrated pattern, with pyFAI's names.
public enum RadialUnit: String, Sendable, CaseIterable, Codable {
    case qInverseAngstrom = "q_A^-1"
    case qInverseNanometre = "q_nm^-1"
    case twoThetaDegrees = "2th_deg"
    case twoThetaRadians = "2th_rad"
    case radiusMillimetres = "r_mm"

    /// Column label for file headers.
    public var label: String {
        switch self {
        case .qInverseAngstrom: "q (1/A)"
        case .qInverseNanometre: "q (1/nm)"
        case .twoThetaDegrees: "2theta (deg)"
        case .twoThetaRadians: "2theta (rad)"
        case .radiusMillimetres: "r (mm)"
        }
    }

    /// FIT2D's axis title in .chi files.
    public var fit2dTitle: String {
        switch self {
        case .qInverseAngstrom: "Q (Angstroms^-1)"
        case .qInverseNanometre: "Q (nm^-1)"
        case .twoThetaDegrees: "2-Theta Angle (Degrees)"
        case .twoThetaRadians: "2-Theta Angle (Radians)"
        case .radiusMillimetres: "Radial distance (mm)"
        }
    }

    public var needsWavelength: Bool { self == .qInverseAngstrom || self == .qInverseNanometre }

    /// The value for a point at lab position (t1, t2, t3) metres; `wavelength` in Å.
    @inline(__always)
    func value(t1: Double, t2: Double, t3: Double, wavelength: Double) -> Double {
        let rho = (t1 * t1 + t2 * t2).squareRoot()
        switch self {
        case .radiusMillimetres: return rho * 1e3
        case .twoThetaRadians: return atan2(rho, t3)
        case .twoThetaDegrees: return atan2(rho, t3) * (180 / .pi)
        case .qInverseAngstrom: return 4 * .pi / wavelength * sin(0.5 * atan2(rho, t3))
        case .qInverseNanometre: return 40 * .pi / wavelength * sin(0.5 * atan2(rho, t3))
        }
    }

    /// Converts a value of this unit to 2θ in radians (`wavelength` in Å; `distance` in m for r).
    public func twoTheta(_ value: Double, wavelength: Double?, distance: Double) -> Double {
        switch self {
        case .twoThetaRadians: return value
        case .twoThetaDegrees: return value * .pi / 180
        case .radiusMillimetres: return atan(value * 1e-3 / distance)
        case .qInverseAngstrom: return 2 * asin(value * (wavelength ?? .nan) / (4 * .pi))
        case .qInverseNanometre: return 2 * asin(value * (wavelength ?? .nan) / (40 * .pi))
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
