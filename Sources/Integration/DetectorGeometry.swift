import BeamlineSupport
import Foundation

/// A flat detector's position in pyFAI's PONI convention.
///
/// The point of normal incidence (PONI) is the foot of the perpendicular from the
/// sample to the detector plane, at `poni1` (slow axis, rows, "y") and `poni2` (fast
/// axis, columns, "x") metres from the detector's first pixel corner; `distance` is
/// the length of that perpendicular. The detector is turned by `rot1` (about the
/// vertical axis 1, left-handed), `rot2` (about axis 2, left-handed) and `rot3`
/// (about the beam, right-handed), applied in that order: R = R3 · R2 · R1
/// (Kieffer & Karkoulis, J. Phys. Conf. Ser. 425 (2013) 202012; pyFAI "geometry").
///
/// A pixel centre at (row i, column j) sits at p1 = (i + ½)·pixel1 − poni1,
/// p2 = (j + ½)·pixel2 − poni2 in the detector plane; its lab position is
/// t = R · (p1, p2, distance), and then
///
///     2θ = atan2(√(t1² + t2²), t3),   χ = atan2(t1, t2),   r = √(t1² + t2²),
///     q = 4π sin(θ) / λ.
public struct DetectorGeometry: Sendable, Equatable, Codable {
    /// Sample–PONI distance, metres.
    public var distance: Double
    /// PONI along the slow axis (rows), metres.
    public var poni1: Double
    /// PONI along the fast axis (columns), metres.
    public var poni2: Double
    /// Rotations in radians.
    public var rot1: Double
    public var rot2: Double
    public var rot3: Double
    /// Pixel size along rows (slow) and columns (fast), metres.
    public var pixel1: Double
    public var pixel2: Double
    /// Detector shape: rows (height) and columns (width).
    public var height: Int
    public var width: Int
    /// X-ray wavelength in metres (as in .poni files), when known.
    public var wavelength: Double?
    /// pyFAI's detector orientation (1–4; 3, the default, is pyFAI's native one).
    public var orientation: Int

    public init(distance: Double, poni1: Double, poni2: Double, rot1: Double = 0, rot2: Double = 0,
                rot3: Double = 0, pixel1: Double, pixel2: Double, height: Int, width: Int,
                wavelength: Double? = nil, orientation: Int = 3) {
        self.distance = distance
        self.poni1 = poni1
        self.poni2 = poni2
        self.rot1 = rot1
        self.rot2 = rot2
        self.rot3 = rot3
        self.pixel1 = pixel1
        self.pixel2 = pixel2
        self.height = height
        self.width = width
        self.wavelength = wavelength
        self.orientation = orientation
    }

    /// Wavelength in Å.
    public var wavelengthAngstrom: Double? { wavelength.map { $0 * 1e10 } }

    /// Checks that the numbers describe a usable detector.
    public func validate(path: String? = nil) throws {
        func fail(_ message: String) -> BeamlineError { BeamlineError(path: path, message) }
        for (name, value) in [("Distance", distance), ("Poni1", poni1), ("Poni2", poni2), ("Rot1", rot1),
                              ("Rot2", rot2), ("Rot3", rot3), ("pixel1", pixel1), ("pixel2", pixel2)] where !value.isFinite {
            throw fail("\(name) is not a finite number")
        }
        guard distance > 0 else { throw fail("Distance must be positive, got \(distance) m") }
        guard pixel1 > 0, pixel2 > 0 else { throw fail("pixel sizes must be positive, got \(pixel1) x \(pixel2) m") }
        guard height > 0, width > 0 else { throw fail("detector shape is unknown (\(height) x \(width)); give max_shape") }
        if let wavelength, !(wavelength > 0 && wavelength.isFinite) { throw fail("Wavelength must be positive, got \(wavelength) m") }
        guard (1 ... 4).contains(orientation) else { throw fail("unsupported detector orientation \(orientation) (1-4)") }
    }

    /// R = R3 · R2 · R1 as a row-major 3×3 matrix.
    public var rotationMatrix: [Double] {
        let r = rotationRows
        return [r.0.x, r.0.y, r.0.z, r.1.x, r.1.y, r.1.z, r.2.x, r.2.y, r.2.z]
    }

    /// The rows of R = R3 · R2 · R1, without allocating (it is needed for every point of a
    /// calibration fit). Each element is summed in the order k = 0, 1, 2.
    @inline(__always)
    var rotationRows: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>) {
        let (c1, s1) = (cos(rot1), sin(rot1))
        let (c2, s2) = (cos(rot2), sin(rot2))
        let (c3, s3) = (cos(rot3), sin(rot3))
        typealias Rows = (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)
        let r1: Rows = (SIMD3(1, 0, 0), SIMD3(0, c1, s1), SIMD3(0, -s1, c1))
        let r2: Rows = (SIMD3(c2, 0, -s2), SIMD3(0, 1, 0), SIMD3(s2, 0, c2))
        let r3: Rows = (SIMD3(c3, -s3, 0), SIMD3(s3, c3, 0), SIMD3(0, 0, 1))
        func multiply(_ a: Rows, _ b: Rows) -> Rows {
            func row(_ x: SIMD3<Double>) -> SIMD3<Double> {
                var out = SIMD3<Double>()
                for j in 0 ..< 3 { out[j] = x[0] * b.0[j] + x[1] * b.1[j] + x[2] * b.2[j] }
                return out
            }
            return (row(a.0), row(a.1), row(a.2))
        }
        return multiply(multiply(r3, r2), r1)
    }

    /// Detector-plane coordinates (metres from the PONI) of a point given in pixel
    /// units from the first pixel corner (the centre of pixel (i, j) is (i + ½, j + ½)),
    /// after the orientation's flips.
    @inline(__always)
    func planePosition(row: Double, column: Double) -> (Double, Double) {
        var r = row, c = column
        switch orientation {
        case 1: r = Double(height) - r; c = Double(width) - c
        case 2: r = Double(height) - r
        case 4: c = Double(width) - c
        default: break
        }
        return (r * pixel1 - poni1, c * pixel2 - poni2)
    }

    /// Lab coordinates (t1, t2, t3) of a point in pixel units (see `planePosition`).
    public func labPosition(row: Double, column: Double) -> (Double, Double, Double) {
        let m = rotationRows
        let (p1, p2) = planePosition(row: row, column: column)
        return (m.0.x * p1 + m.0.y * p2 + m.0.z * distance,
                m.1.x * p1 + m.1.y * p2 + m.1.z * distance,
                m.2.x * p1 + m.2.y * p2 + m.2.z * distance)
    }

    /// 2θ in radians of a point in pixel units.
    public func twoTheta(row: Double, column: Double) -> Double {
        let (t1, t2, t3) = labPosition(row: row, column: column)
        return atan2((t1 * t1 + t2 * t2).squareRoot(), t3)
    }

    /// χ in radians, in (−π, π], of a point in pixel units.
    public func chi(row: Double, column: Double) -> Double {
        let (t1, t2, _) = labPosition(row: row, column: column)
        return atan2(t1, t2)
    }

    /// Solid angle of the pixel centred at (row, column) relative to a pixel at the
    /// PONI: cos³ of the incidence angle, (L / √(L² + p1² + p2²))³.
    public func solidAngle(row: Double, column: Double) -> Double {
        let (p1, p2) = planePosition(row: row, column: column)
        let c = distance / (distance * distance + p1 * p1 + p2 * p2).squareRoot()
        return c * c * c
    }

    /// pyFAI's polarization correction for a polarization `factor` (−1…1; 0.99 at a
    /// synchrotron) whose main axis is `axisOffset` radians from the detector's x axis:
    ///
    ///     P = ½ [1 + cos²2θ − factor · cos(2(χ + offset)) · sin²2θ]
    ///
    /// Intensities are divided by P.
    public static func polarization(twoTheta: Double, chi: Double, factor: Double, axisOffset: Double = 0) -> Double {
        let c2 = cos(twoTheta) * cos(twoTheta)
        return 0.5 * (1 + c2 - factor * cos(2 * (chi + axisOffset)) * (1 - c2))
    }
}

/// FIT2D's description of the same geometry (Hammersley et al., High Pressure
/// Research 14 (1996) 235): distance along the beam, beam centre in pixels, tilt and
/// tilt-plane rotation in degrees, pixel sizes in µm.
public struct FIT2DGeometry: Sendable, Equatable {
    /// Sample–detector distance along the direct beam, mm.
    public var directDistance: Double
    /// Beam centre, pixels (x = columns, y = rows).
    public var centerX: Double
    public var centerY: Double
    /// Tilt of the detector and rotation of the tilt plane, degrees.
    public var tilt: Double
    public var tiltPlaneRotation: Double
    /// Pixel sizes, µm.
    public var pixelX: Double
    public var pixelY: Double
    /// Wavelength, Å.
    public var wavelength: Double?

    public init(directDistance: Double, centerX: Double, centerY: Double, tilt: Double = 0,
                tiltPlaneRotation: Double = 0, pixelX: Double, pixelY: Double, wavelength: Double? = nil) {
        self.directDistance = directDistance
        self.centerX = centerX
        self.centerY = centerY
        self.tilt = tilt
        self.tiltPlaneRotation = tiltPlaneRotation
        self.pixelX = pixelX
        self.pixelY = pixelY
        self.wavelength = wavelength
    }
}

extension DetectorGeometry {
    /// The FIT2D parameters of this geometry (rot3 does not enter: FIT2D has no such angle).
    ///
    /// cos(tilt) = cos(rot1) cos(rot2); the tilt plane turns by τ with
    /// cos τ = −cos(rot2) sin(rot1) / sin(tilt), sin τ = sin(rot2) / sin(tilt);
    /// direct distance = distance / cos(tilt); the beam centre is the PONI moved by
    /// distance · tan(tilt) along the tilt plane.
    public var fit2d: FIT2DGeometry {
        var cosTilt = cos(rot1) * cos(rot2)
        var sinTilt = (1 - cosTilt * cosTilt).squareRoot()
        var cosTPR = 1.0, sinTPR = 0.0
        if sinTilt == 0 {
            cosTilt = 1
            sinTilt = 0
        } else {
            cosTPR = max(-1, min(1, -cos(rot2) * sin(rot1) / sinTilt))
            sinTPR = sin(rot2) / sinTilt
        }
        let tanTilt = sinTilt / cosTilt
        let tilt = acos(cosTilt) * 180 / .pi
        let tpr = (sinTPR < 0 ? -1.0 : 1.0) * acos(cosTPR) * 180 / .pi
        let centerX = (poni2 + distance * tanTilt * cosTPR) / pixel2
        let centerY = abs(tilt) < 1e-5 ? poni1 / pixel1 : (poni1 + distance * tanTilt * sinTPR) / pixel1
        return FIT2DGeometry(directDistance: 1e3 * distance / cosTilt, centerX: centerX, centerY: centerY,
                             tilt: tilt, tiltPlaneRotation: tpr, pixelX: pixel2 * 1e6, pixelY: pixel1 * 1e6,
                             wavelength: wavelength.map { $0 * 1e10 })
    }

    /// The PONI geometry of FIT2D parameters on a detector of `height` x `width` pixels.
    public init(fit2d f: FIT2DGeometry, height: Int, width: Int) throws {
        let t = f.tilt * .pi / 180, p = f.tiltPlaneRotation * .pi / 180
        let (cosTilt, sinTilt, cosTPR, sinTPR) = (cos(t), sin(t), cos(p), sin(p))
        let pixel1 = f.pixelY * 1e-6, pixel2 = f.pixelX * 1e-6
        let distance = f.directDistance * cosTilt * 1e-3
        let poni1 = f.centerY * pixel1 - f.directDistance * sinTilt * sinTPR * 1e-3
        let poni2 = f.centerX * pixel2 - f.directDistance * sinTilt * cosTPR * 1e-3
        let rot2 = asin(sinTilt * sinTPR)
        var rot1 = acos(min(1, max(-1, cosTilt / (1 - (sinTPR * sinTilt) * (sinTPR * sinTilt)).squareRoot())))
        if cosTPR * sinTilt > 0 { rot1 = -rot1 }
        guard abs(cosTilt - cos(rot1) * cos(rot2)) < 1e-6 else {
            throw BeamlineError("inconsistent FIT2D geometry: tilt \(f.tilt)°, tilt-plane rotation \(f.tiltPlaneRotation)°")
        }
        var rot3 = 0.0
        if f.tilt != 0 {
            let x = (cosTilt * cosTPR * sinTPR - cosTPR * sinTPR) / (1 - sinTPR * sinTPR * sinTilt * sinTilt).squareRoot()
            rot3 = .pi / 2 - acos(min(1, max(-1, x)))
        }
        self.init(distance: distance, poni1: poni1, poni2: poni2, rot1: rot1, rot2: rot2, rot3: rot3,
                  pixel1: pixel1, pixel2: pixel2, height: height, width: width,
                  wavelength: f.wavelength.map { $0 * 1e-10 })
    }
}
