/// Where a frame comes from: the file and the index of the frame in it.
public struct FrameID: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var index: Int

    public init(path: String, index: Int) {
        self.path = path
        self.index = index
    }

    public var description: String { "\(path)#\(index)" }
}

/// What a file's header says about the experiment, in the project's units.
public struct ImageMetadata: Sendable, Equatable {
    /// X-ray wavelength in Å.
    public var wavelength: Double?
    /// Sample–detector distance in metres.
    public var distance: Double?
    /// Pixel size along the fast axis (x, columns) in metres.
    public var pixelSizeX: Double?
    /// Pixel size along the slow axis (y, rows) in metres.
    public var pixelSizeY: Double?
    /// Exposure (count) time in seconds.
    public var exposureTime: Double?
    /// Beam centre in pixels (x = column, y = row), as the header states it.
    public var beamCenterX: Double?
    public var beamCenterY: Double?
    /// Acquisition date as written in the header.
    public var date: String?
    /// Every header key and value in file order, for display.
    public var header: [HeaderEntry]

    public init(wavelength: Double? = nil, distance: Double? = nil, pixelSizeX: Double? = nil,
                pixelSizeY: Double? = nil, exposureTime: Double? = nil, beamCenterX: Double? = nil,
                beamCenterY: Double? = nil, date: String? = nil, header: [HeaderEntry] = []) {
        self.wavelength = wavelength
        self.distance = distance
        self.pixelSizeX = pixelSizeX
        self.pixelSizeY = pixelSizeY
        self.exposureTime = exposureTime
        self.beamCenterX = beamCenterX
        self.beamCenterY = beamCenterY
        self.date = date
        self.header = header
    }

    public subscript(key: String) -> String? {
        header.first { $0.key == key }?.value
    }
}

public struct HeaderEntry: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// One detector image, ready for processing.
///
/// Pixels are row-major (`pixels[y * width + x]`, x fastest) as `Float`, which
/// represents every integer count below 2^24 exactly; `pixelType` remembers
/// what the file stored.
public struct Frame: Sendable {
    public var id: FrameID
    public var width: Int
    public var height: Int
    public var pixels: [Float]
    public var pixelType: PixelType
    public var metadata: ImageMetadata

    public init(id: FrameID, width: Int, height: Int, pixels: [Float], pixelType: PixelType,
                metadata: ImageMetadata = ImageMetadata()) {
        precondition(pixels.count == width * height, "pixel count does not match the shape")
        self.id = id
        self.width = width
        self.height = height
        self.pixels = pixels
        self.pixelType = pixelType
        self.metadata = metadata
    }

    public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// Minimum, maximum and mean over finite pixels.
    public var statistics: PixelStatistics { PixelStatistics(pixels) }
}

public struct PixelStatistics: Sendable, Equatable {
    public var minimum: Double
    public var maximum: Double
    public var mean: Double
    /// Pixels that are NaN or infinite.
    public var nonFiniteCount: Int

    public init(_ pixels: [Float]) {
        var lo = Float.infinity, hi = -Float.infinity
        var sum = 0.0
        var n = 0, bad = 0
        for v in pixels {
            if v.isFinite {
                lo = min(lo, v)
                hi = max(hi, v)
                sum += Double(v)
                n += 1
            } else {
                bad += 1
            }
        }
        minimum = n > 0 ? Double(lo) : .nan
        maximum = n > 0 ? Double(hi) : .nan
        mean = n > 0 ? sum / Double(n) : .nan
        nonFiniteCount = bad
    }
}
