import BeamlineSupport
import CVectorMath
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
    /// With `combined`, instead of the two above: their product per pixel (1 × solid angle × P,
    /// each factor only when asked for, in Float as an engine forms it), or nil when neither was
    /// asked for. Written once, for the engine to finish in place as its per-pixel normalization.
    public let correction: EngineArray<Float>?
    /// Radial coordinate and χ (degrees) at the (height + 1) × (width + 1) pixel corners.
    public let cornerRadial: [Float]?
    public let cornerChi: [Float]?

    public init(geometry g: DetectorGeometry, unit: RadialUnit, chi wantChi: Bool, solidAngle wantSolidAngle: Bool,
                polarizationFactor: Double?, polarizationAxisOffset: Double = 0, corners: Bool,
                cornerChi wantCornerChi: Bool = true, combined: Bool = false) throws {
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
        // Two maps of 4 bytes a pixel (96 MB for a 3450² plate) that an engine only multiplies:
        // with `combined`, their product alone.
        var solid = wantSolidAngle && !combined ? [Float](uninitializedForWriting: n) : nil
        var polar = factor != nil && !combined ? [Float](uninitializedForWriting: n) : nil
        let product = combined && (wantSolidAngle || factor != nil) ? EngineArray<Float>(count: n, repeating: 0) : nil

        let rows = RowMaps(unit: unit, wavelength: wavelength, matrix: m, distance: distance,
                           solidAngle: wantSolidAngle, polarizationFactor: factor, c2o: c2o, s2o: s2o)
        radial.withUnsafeMutableBufferPointer { radialOut in
            let outputs = RowMaps.Outputs(
                radial: radialOut, chi: chi?.withUnsafeMutableBufferPointer { $0 },
                solid: solid?.withUnsafeMutableBufferPointer { $0 },
                polarization: polar?.withUnsafeMutableBufferPointer { $0 },
                correction: product.map { UnsafeMutableBufferPointer(start: $0.mutableAddress, count: n) })
            colCentre.withUnsafeBufferPointer { columns in
                Parallel.forEachChunk(h) { _, chunk in
                    for i in chunk { rows.centres(row: i, p1: rowCentre[i], columns: columns, outputs) }
                }
            }
        }
        correction = product
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
                    colCorner.withUnsafeBufferPointer { columns in
                        Parallel.forEachChunk(ch) { _, chunk in
                            for i in chunk {
                                rows.corners(row: i, p1: rowCorner[i], columns: columns, radial: rOut,
                                             chi: wantCornerChi ? cOut : nil)
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

/// One row of `GeometryMaps`: the per-pixel formulas above, four pixels at a time where the radial
/// unit has no arctangent (q and r; 2θ goes pixel by pixel). The lanes do the scalar code's IEEE
/// operations in its order (no fused multiply-add), so the values are the same bit for bit; the
/// square roots and quotients, most of the cost, go two or four to an instruction.
struct RowMaps {
    let unit: RadialUnit
    let wavelength: Double
    let m: [Double]
    let distance: Double
    let solidAngle: Bool
    let polarizationFactor: Double?
    let c2o: Double, s2o: Double
    /// q's 4π/λ (40π/λ in nm⁻¹) as `radialValue` forms it.
    let qFactor: Double

    init(unit: RadialUnit, wavelength: Double, matrix: [Double], distance: Double, solidAngle: Bool,
         polarizationFactor: Double?, c2o: Double, s2o: Double) {
        self.unit = unit
        self.wavelength = wavelength
        m = matrix
        self.distance = distance
        self.solidAngle = solidAngle
        self.polarizationFactor = polarizationFactor
        self.c2o = c2o
        self.s2o = s2o
        qFactor = (unit == .qInverseAngstrom ? 4 : 40) * .pi / wavelength
    }

    typealias Lanes = SIMD4<Double>

    var vectorised: Bool { unit != .twoThetaDegrees && unit != .twoThetaRadians }

    @inline(__always)
    func radial(_ t1: Lanes, _ t2: Lanes, _ t3: Lanes) -> Lanes {
        let rho = cvm_sqrt4(t1 * t1 + t2 * t2)
        if unit == .radiusMillimetres { return rho * 1e3 }
        let norm = cvm_sqrt4(rho * rho + t3 * t3)
        let sinTheta = (rho / cvm_sqrt4(2 * norm * (norm + t3))).replacing(with: 0, where: rho .== 0)
        return qFactor * sinTheta
    }

    @inline(__always)
    static func load(_ columns: UnsafeBufferPointer<Double>, _ j: Int) -> Lanes {
        UnsafeRawPointer(columns.baseAddress! + j).loadUnaligned(as: Lanes.self)
    }

    /// Where `centres` writes; nil for a map not asked for.
    struct Outputs {
        let radial: UnsafeMutableBufferPointer<Double>
        let chi: UnsafeMutableBufferPointer<Float>?
        let solid: UnsafeMutableBufferPointer<Float>?
        let polarization: UnsafeMutableBufferPointer<Float>?
        let correction: UnsafeMutableBufferPointer<Float>?
    }

    @inline(__always)
    static func store(_ values: SIMD4<Float>, _ out: UnsafeMutableBufferPointer<Float>, _ index: Int) {
        UnsafeMutableRawPointer(out.baseAddress! + index).storeBytes(of: values, as: SIMD4<Float>.self)
    }

    /// Radial value, χ, solid angle and polarization of the pixel centres of row `row`.
    func centres(row i: Int, p1: Double, columns: UnsafeBufferPointer<Double>, _ out: Outputs) {
        let w = columns.count
        let a1 = m[0] * p1 + m[2] * distance, a2 = m[3] * p1 + m[5] * distance, a3 = m[6] * p1 + m[8] * distance
        let (m1, m4, m7) = (m[1], m[4], m[7])
        let solidBase = distance * distance + p1 * p1
        var j = 0
        if vectorised {
            while j + 4 <= w {
                let p2 = Self.load(columns, j)
                let t1 = a1 + m1 * p2, t2 = a2 + m4 * p2, t3 = a3 + m7 * p2
                let index = i * w + j
                UnsafeMutableRawPointer(out.radial.baseAddress! + index)
                    .storeBytes(of: radial(t1, t2, t3), as: Lanes.self)
                if let chiOut = out.chi {
                    for k in 0 ..< 4 { chiOut[index + k] = Float(atan2(t1[k], t2[k]) * (180 / .pi)) }
                }
                var correction = SIMD4<Float>(repeating: 1)
                if solidAngle {
                    let c = distance / cvm_sqrt4(solidBase + p2 * p2)
                    let solid = SIMD4<Float>(c * c * c)
                    if let solidOut = out.solid { Self.store(solid, solidOut, index) }
                    correction *= solid
                }
                if let factor = polarizationFactor {
                    let rho2 = t1 * t1 + t2 * t2
                    let norm2 = rho2 + t3 * t3
                    let cos2tth = t3 * t3 / norm2
                    let round = rho2 .> 0
                    let cos2chi = ((t2 * t2 - t1 * t1) / rho2).replacing(with: 1, where: .!round)
                    let sin2chi = (2 * t1 * t2 / rho2).replacing(with: 0, where: .!round)
                    let cosShifted = cos2chi * c2o - sin2chi * s2o
                    let polarization = SIMD4<Float>(0.5 * (1 + cos2tth - factor * cosShifted * (1 - cos2tth)))
                    if let polarOut = out.polarization { Self.store(polarization, polarOut, index) }
                    correction *= polarization
                }
                if let correctionOut = out.correction { Self.store(correction, correctionOut, index) }
                j += 4
            }
        }
        for j in j ..< w {
            let p2 = columns[j]
            let t1 = a1 + m1 * p2, t2 = a2 + m4 * p2, t3 = a3 + m7 * p2
            let index = i * w + j
            out.radial[index] = GeometryMaps.radialValue(unit, t1, t2, t3, wavelength)
            if let chiOut = out.chi { chiOut[index] = Float(atan2(t1, t2) * (180 / .pi)) }
            var correction: Float = 1
            if solidAngle {
                let c = distance / (solidBase + p2 * p2).squareRoot()
                let solid = Float(c * c * c)
                out.solid?[index] = solid
                correction *= solid
            }
            if let factor = polarizationFactor {
                let rho2 = t1 * t1 + t2 * t2
                let norm2 = rho2 + t3 * t3
                let cos2tth = t3 * t3 / norm2
                var cos2chi = 1.0, sin2chi = 0.0
                if rho2 > 0 {
                    cos2chi = (t2 * t2 - t1 * t1) / rho2
                    sin2chi = 2 * t1 * t2 / rho2
                }
                let cosShifted = cos2chi * c2o - sin2chi * s2o
                let polarization = Float(0.5 * (1 + cos2tth - factor * cosShifted * (1 - cos2tth)))
                out.polarization?[index] = polarization
                correction *= polarization
            }
            out.correction?[index] = correction
        }
    }

    /// Radial value (and χ, when asked for) at the corners of row `row` of the corner grid.
    func corners(row i: Int, p1: Double, columns: UnsafeBufferPointer<Double>,
                 radial rOut: UnsafeMutableBufferPointer<Float>, chi cOut: UnsafeMutableBufferPointer<Float>?) {
        let cw = columns.count
        let a1 = m[0] * p1 + m[2] * distance, a2 = m[3] * p1 + m[5] * distance, a3 = m[6] * p1 + m[8] * distance
        let (m1, m4, m7) = (m[1], m[4], m[7])
        var j = 0
        if vectorised {
            while j + 4 <= cw {
                let p2 = Self.load(columns, j)
                let t1 = a1 + m1 * p2, t2 = a2 + m4 * p2, t3 = a3 + m7 * p2
                Self.store(SIMD4<Float>(radial(t1, t2, t3)), rOut, i * cw + j)
                if let cOut {
                    for k in 0 ..< 4 { cOut[i * cw + j + k] = Float(atan2(t1[k], t2[k]) * (180 / .pi)) }
                }
                j += 4
            }
        }
        for j in j ..< cw {
            let p2 = columns[j]
            let t1 = a1 + m1 * p2, t2 = a2 + m4 * p2, t3 = a3 + m7 * p2
            rOut[i * cw + j] = Float(GeometryMaps.radialValue(unit, t1, t2, t3, wavelength))
            if let cOut { cOut[i * cw + j] = Float(atan2(t1, t2) * (180 / .pi)) }
        }
    }
}
