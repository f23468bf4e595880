import BeamlineSupport
import Foundation

/// Per-pixel values of one geometry, computed once and reused for every frame.
///
/// Computed without trigonometry where a closed form exists: with t the lab vector,
/// ρ = √(t1² + t2²) and |t| = √(ρ² + t3²),
///
///     sin θ = ρ / √(2|t|(|t| + t3)),   cos 2θ = t3 / |t|,
///     cos 2χ = (t2² − t1²) / ρ²,       sin 2χ = 2 t1 t2 / ρ²,
///
/// which are exact and keep full precision near the beam.
public struct GeometryMaps: Sendable {
    public let geometry: DetectorGeometry
    public let unit: RadialUnit
    /// Radial coordinate of each pixel centre, in `unit`.
    public let radial: [Double]
    /// Azimuth χ of each pixel centre, degrees in (−180, 180], when asked for.
    public let chi: [Float]?
    /// Solid angle (relative to the PONI) of each pixel.
    public let solidAngle: [Float]?
    /// Polarization correction P of each pixel (intensities are divided by it).
    public let polarization: [Float]?
    /// Radial coordinate and χ (degrees) at the (height + 1) × (width + 1) pixel corners.
    public let cornerRadial: [Float]?
    public let cornerChi: [Float]?

    public init(geometry g: DetectorGeometry, unit: RadialUnit, chi wantChi: Bool, solidAngle wantSolidAngle: Bool,
                polarizationFactor: Double?, polarizationAxisOffset: Double = 0, corners: Bool,
                cornerChi wantCornerChi: Bool = true) throws {
        try g.validate()
        let wavelength = g.wavelengthAngstrom ?? .nan
        if unit.needsWavelength && !(wavelength > 0) {
            throw BeamlineError("the geometry has no wavelength, which q needs (add Wavelength to the .poni or use 2th_deg)")
        }
        geometry = g
        self.unit = unit
        let h = g.height, w = g.width, n = h * w
        let m = g.rotationMatrix
        let distance = g.distance
        // Plane coordinates of centres (index + ½) and corners (index), per row and per column.
        let rowCentre = (0 ..< h).map { g.planePosition(row: Double($0) + 0.5, column: 0).0 }
        let colCentre = (0 ..< w).map { g.planePosition(row: 0, column: Double($0) + 0.5).1 }
        let factor = polarizationFactor
        let (c2o, s2o) = (cos(2 * polarizationAxisOffset), sin(2 * polarizationAxisOffset))

        // Every element is written below, row by row on every core.
        var radial = [Double](uninitializedForWriting: n)
        var chi = wantChi ? [Float](uninitializedForWriting: n) : nil
        var solid = wantSolidAngle ? [Float](uninitializedForWriting: n) : nil
        var polar = factor != nil ? [Float](uninitializedForWriting: n) : nil

        radial.withUnsafeMutableBufferPointer { radialOut in
            let chiOut = chi?.withUnsafeMutableBufferPointer { $0 }
            let solidOut = solid?.withUnsafeMutableBufferPointer { $0 }
            let polarOut = polar?.withUnsafeMutableBufferPointer { $0 }
            Parallel.forEachChunk(h) { _, rows in
                for i in rows {
                    let p1 = rowCentre[i]
                    let a1 = m[0] * p1 + m[2] * distance, a2 = m[3] * p1 + m[5] * distance, a3 = m[6] * p1 + m[8] * distance
                    for j in 0 ..< w {
                        let p2 = colCentre[j]
                        let t1 = a1 + m[1] * p2, t2 = a2 + m[4] * p2, t3 = a3 + m[7] * p2
                        let index = i * w + j
                        radialOut[index] = Self.radialValue(unit, t1, t2, t3, wavelength)
                        if let chiOut { chiOut[index] = Float(atan2(t1, t2) * (180 / .pi)) }
                        if let solidOut {
                            let c = distance / (distance * distance + p1 * p1 + p2 * p2).squareRoot()
                            solidOut[index] = Float(c * c * c)
                        }
                        if let polarOut, let factor {
                            let rho2 = t1 * t1 + t2 * t2
                            let norm2 = rho2 + t3 * t3
                            let cos2tth = t3 * t3 / norm2
                            var cos2chi = 1.0, sin2chi = 0.0
                            if rho2 > 0 {
                                cos2chi = (t2 * t2 - t1 * t1) / rho2
                                sin2chi = 2 * t1 * t2 / rho2
                            }
                            let cosShifted = cos2chi * c2o - sin2chi * s2o
                            polarOut[index] = Float(0.5 * (1 + cos2tth - factor * cosShifted * (1 - cos2tth)))
                        }
                    }
                }
            }
        }
        self.radial = radial
        self.chi = chi
        self.solidAngle = solid
        self.polarization = polar

        if corners {
            let ch = h + 1, cw = w + 1
            let rowCorner = (0 ..< ch).map { g.planePosition(row: Double($0), column: 0).0 }
            let colCorner = (0 ..< cw).map { g.planePosition(row: 0, column: Double($0)).1 }
            var cornerRadial = [Float](uninitializedForWriting: ch * cw)
            // χ at the corners (an arctangent each) only where shares depend on it: 2D and full splitting.
            var cornerChi = [Float](uninitializedForWriting: wantCornerChi ? ch * cw : 0)
            cornerRadial.withUnsafeMutableBufferPointer { rOut in
                cornerChi.withUnsafeMutableBufferPointer { cOut in
                    Parallel.forEachChunk(ch) { _, rows in
                        for i in rows {
                            let p1 = rowCorner[i]
                            let a1 = m[0] * p1 + m[2] * distance, a2 = m[3] * p1 + m[5] * distance, a3 = m[6] * p1 + m[8] * distance
                            for j in 0 ..< cw {
                                let p2 = colCorner[j]
                                let t1 = a1 + m[1] * p2, t2 = a2 + m[4] * p2, t3 = a3 + m[7] * p2
                                rOut[i * cw + j] = Float(Self.radialValue(unit, t1, t2, t3, wavelength))
                                if wantCornerChi { cOut[i * cw + j] = Float(atan2(t1, t2) * (180 / .pi)) }
                            }
                        }
                    }
                }
            }
            self.cornerRadial = cornerRadial
            self.cornerChi = wantCornerChi ? cornerChi : nil
        } else {
            cornerRadial = nil
            cornerChi = nil
        }
    }

    @inline(__always)
    static func radialValue(_ unit: RadialUnit, _ t1: Double, _ t2: Double, _ t3: Double, _ wavelength: Double) -> Double {
        let rho = (t1 * t1 + t2 * t2).squareRoot()
        switch unit {
        case .qInverseAngstrom, .qInverseNanometre:
            let norm = (rho * rho + t3 * t3).squareRoot()
            let sinTheta = rho == 0 ? 0 : rho / (2 * norm * (norm + t3)).squareRoot()
            return (unit == .qInverseAngstrom ? 4 : 40) * .pi / wavelength * sinTheta
        case .twoThetaDegrees: return atan2(rho, t3) * (180 / .pi)
        case .twoThetaRadians: return atan2(rho, t3)
        case .radiusMillimetres: return rho * 1e3
        }
    }
}
