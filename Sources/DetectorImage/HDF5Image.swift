import BeamlineSupport
import CHDF5
import Foundation

/// libhdf5 crashes, hangs or asks for gigabytes on some damaged files, so every HDF5 file is first
/// opened, listed and its datasets opened in a disposable child process. The children are forked
/// by a small helper process: forking this one would copy its page tables, and a reduction holds
/// hundreds of MB.
public enum HDF5Probe {
    /// Starts the helper process now, while this process is small (it otherwise starts with the
    /// first HDF5 file). A fuzzer calls it before installing its allocation and crash hooks, which
    /// the children then do not inherit. Returns whether it runs (without it, each child is forked
    /// from this process).
    @discardableResult
    public static func startHelper() -> Bool { chdf5_probe_server_start() == 0 }

    /// The helper's process id, nil when none runs.
    public static var helperProcess: Int32? {
        let pid = chdf5_probe_server_pid()
        return pid > 0 ? pid : nil
    }
}

/// Owns an open HDF5 file identifier.
final class HDF5File {
    let id: Int64
    let path: String

    init(path: String) throws {
        var id: Int64 = -1
        var message = [CChar](repeating: 0, count: 2048)
        // libhdf5 itself crashes on some damaged files: tried in a child process first.
        guard chdf5_probe_file(path, &message, message.count) == 0 else {
            throw BeamlineError(path: path, "HDF5: \(String(cBuffer: message))")
        }
        guard chdf5_file_open(path, &id, &message, message.count) == 0 else {
            throw BeamlineError(path: path, "HDF5: \(String(cBuffer: message))")
        }
        self.id = id
        self.path = path
    }

    deinit { _ = chdf5_file_close(id) }

    func exists(_ object: String) -> Bool { chdf5_exists(id, object) == 1 }

    /// The first number of a numeric dataset; nil when there is none or it holds no numbers. Throws
    /// when its number type is damaged.
    func double(_ object: String) throws -> Double? {
        var value = 0.0
        var message = [CChar](repeating: 0, count: 512)
        switch chdf5_read_scalar_double(id, object, &value, &message, message.count) {
        case 0: return value
        case -3: throw BeamlineError(path: path, "HDF5: \(String(cBuffer: message))")
        default: return nil
        }
    }

    /// A scalar string dataset; nil when there is none. Throws when libhdf5 could not finish reading it.
    func string(_ object: String) throws -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        var message = [CChar](repeating: 0, count: 256)
        switch chdf5_read_scalar_string(id, object, &buffer, buffer.count, &message, message.count) {
        case 0: return String(cBuffer: buffer)
        case -2: throw BeamlineError(path: path, "HDF5: \(String(cBuffer: message))")
        default: return nil
        }
    }

    /// A string attribute; nil when there is none. Throws when libhdf5 could not finish reading it.
    func stringAttribute(_ object: String, _ name: String) throws -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        switch chdf5_read_string_attribute(id, object, name, &buffer, buffer.count) {
        case 0: return String(cBuffer: buffer)
        case -2:
            throw BeamlineError(path: path, "HDF5: libhdf5 did not finish reading the attribute \(name) of \(object) "
                                + "(a damaged global heap)")
        default: return nil
        }
    }

    /// Every group and dataset, as (path, isGroup), in name order.
    func objects() throws -> [(path: String, isGroup: Bool)] {
        var capacity = 1 << 16
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            var needed = 0
            var message = [CChar](repeating: 0, count: 1024)
            guard chdf5_list_objects(id, &buffer, buffer.count, &needed, &message, message.count) == 0 else {
                throw BeamlineError(path: path, "HDF5: \(String(cBuffer: message))")
            }
            if needed > capacity {
                capacity = needed
                continue
            }
            return String(cBuffer: buffer).split(separator: "\n").compactMap { line in
                guard line.count > 2 else { return nil }
                return (String(line.dropFirst(2)), line.first == "G")
            }
        }
    }
}

/// Owns an open HDF5 dataset (and keeps its file open).
final class HDF5Dataset {
    let id: Int64
    let file: HDF5File
    let name: String
    let info: chdf5_dataset_info

    init(file: HDF5File, name: String) throws {
        var id: Int64 = -1
        var message = [CChar](repeating: 0, count: 2048)
        guard chdf5_dataset_open(file.id, name, &id, &message, message.count) == 0 else {
            throw BeamlineError(path: file.path, "HDF5: \(String(cBuffer: message))")
        }
        self.id = id
        self.file = file
        self.name = name
        var info = chdf5_dataset_info()
        guard chdf5_dataset_info_get(id, &info, &message, message.count) == 0 else {
            _ = chdf5_dataset_close(id)
            throw BeamlineError(path: file.path, "HDF5: dataset \(name): \(String(cBuffer: message))")
        }
        self.info = info
    }

    deinit { _ = chdf5_dataset_close(id) }

    var dims: [Int] {
        withUnsafeBytes(of: info.dims) { raw in
            Array(raw.bindMemory(to: UInt64.self).prefix(Int(info.rank))).map { Int($0) }
        }
    }
}

/// Frames from an HDF5/NeXus file: a 2D dataset (one frame) or a 3D stack read one
/// frame at a time. Eiger master files whose frames are split over
/// `/entry/data/data_000001`, `data_000002`, … are read as one series.
public struct HDF5Image: ImageSource {
    public let path: String
    public var format: ImageFormat { .hdf5 }
    public let frameCount: Int
    public let width: Int
    public let height: Int
    public let pixelType: PixelType
    public let metadata: ImageMetadata
    /// The dataset(s) holding the frames.
    public var datasetNames: [String] { datasets.map(\.name) }
    /// Why these datasets: named by the caller, the file's NeXus `default`/`signal`
    /// attributes, a known layout, or the only image in the file.
    public let datasetChoice: String

    private let file: HDF5File
    private let datasets: [HDF5Dataset]
    private let framesPerDataset: [Int]

    /// Known filters that HDF5 loads as plugins, for the error message.
    static let pluginFilters: [Int32: String] = [
        32008: "bitshuffle", 32004: "LZ4", 307: "bzip2", 32001: "Blosc", 32015: "Zstandard",
        32026: "Blosc2", 32017: "SZ", 32013: "zfp", 32018: "FCIDECOMP",
    ]

    public init(path: String, dataset: String? = nil) throws {
        let file = try HDF5File(path: path)
        self.file = file
        self.path = path
        let choice = try Self.chooseDatasets(in: file, requested: dataset)
        let names = choice.names
        datasetChoice = choice.reason
        var opened: [HDF5Dataset] = []
        var counts: [Int] = []
        var shape: (Int, Int)?
        var type: PixelType?
        for name in names {
            let d = try HDF5Dataset(file: file, name: name)
            let dims = d.dims
            let frames: Int, h: Int, w: Int
            switch dims.count {
            case 2: (frames, h, w) = (1, dims[0], dims[1])
            case 3: (frames, h, w) = (dims[0], dims[1], dims[2])
            default:
                throw BeamlineError(path: path, "dataset \(name) has rank \(dims.count) (shape \(dims)); images are 2D or 3D")
            }
            guard w > 0, h > 0 else { throw BeamlineError(path: path, "dataset \(name) has an empty shape \(dims)") }
            guard d.info.type_class == Int32(CHDF5_CLASS_INTEGER) || d.info.type_class == Int32(CHDF5_CLASS_FLOAT),
                  let t = PixelType(bytes: Int(d.info.type_size), signed: d.info.is_signed != 0,
                                    floatingPoint: d.info.type_class == Int32(CHDF5_CLASS_FLOAT)) else {
                throw BeamlineError(path: path, "dataset \(name) does not hold numbers (HDF5 type class \(d.info.type_class), \(d.info.type_size) bytes)")
            }
            if let shape, shape != (h, w) {
                throw BeamlineError(path: path, "dataset \(name) is \(w)x\(h), unlike the first (\(shape.1)x\(shape.0))")
            }
            shape = (h, w)
            type = type ?? t
            opened.append(d)
            counts.append(frames)
        }
        datasets = opened
        framesPerDataset = counts
        frameCount = counts.reduce(0, +)
        height = shape!.0
        width = shape!.1
        try ImageLimits.check(width: width, height: height, path: path)
        pixelType = type!
        metadata = try Self.nexusMetadata(file)
    }

    public func frame(at index: Int) throws -> Frame {
        try checkIndex(index)
        var local = index
        var which = 0
        while local >= framesPerDataset[which] {
            local -= framesPerDataset[which]
            which += 1
        }
        let dataset = datasets[which]
        if dataset.info.missing_filter_id >= 0 {
            let id = dataset.info.missing_filter_id
            let declared = withUnsafeBytes(of: dataset.info.missing_filter_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let name = Self.pluginFilters[id] ?? declared
            throw BeamlineError(path: path, """
                dataset \(dataset.name) is compressed with HDF5 filter \(id) (\(name.isEmpty ? "unknown" : name)), \
                whose plugin is not installed. Install the plugin and point HDF5_PLUGIN_PATH at it: \
                `pip install hdf5plugin` then `export HDF5_PLUGIN_PATH=$(python3 -c 'import hdf5plugin; print(hdf5plugin.PLUGIN_PATH)')`, \
                or Debian's hdf5-filter-plugin package (LZ4, bzip2) with HDF5_PLUGIN_PATH=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins
                """)
        }
        let rank = dataset.dims.count
        let start: [UInt64] = rank == 3 ? [UInt64(local), 0, 0] : [0, 0]
        let count: [UInt64] = rank == 3 ? [1, UInt64(height), UInt64(width)] : [UInt64(height), UInt64(width)]
        let n = width * height
        var raw = [UInt8](repeating: 0, count: n * pixelType.byteCount)
        var message = [CChar](repeating: 0, count: 2048)
        let status = raw.withUnsafeMutableBytes {
            chdf5_read_hyperslab(dataset.id, Int32(rank), start, count, $0.baseAddress, $0.count, &message, message.count)
        }
        guard status == 0 else {
            throw BeamlineError(path: path, "HDF5: frame \(index) of \(dataset.name): \(String(cBuffer: message))")
        }
        let pixels = raw.withUnsafeBytes { PixelConversion.toFloat($0, type: pixelType, count: n, swapBytes: false) }
        return Frame(id: FrameID(path: path, index: index), width: width, height: height,
                     pixels: pixels, pixelType: pixelType, metadata: metadata)
    }

    /// Picks the dataset(s) holding the frames when the caller names none, as h5py-based
    /// tools (silx, Dioptas, pyFAI) do: the NeXus default chain first (the root's and each
    /// group's `default` attribute down to an NXdata group, then its `signal`), then the
    /// Eiger/NeXus layout `/entry/data/data` or `data_000001`, `data_000002`, …, then the
    /// `data` field of an NXdetector group, then the only 2D/3D numeric dataset in the file.
    /// Several candidates and no rule to choose: an error that lists them.
    static func chooseDatasets(in file: HDF5File, requested: String?) throws -> (names: [String], reason: String) {
        let path = file.path
        if let requested {
            return ([requested.hasPrefix("/") ? requested : "/" + requested], "named with --dataset")
        }
        func join(_ base: String, _ name: String) -> String {
            name.hasPrefix("/") ? name : (base == "/" ? "/" : base + "/") + name
        }
        // A dataset libhdf5 lists but the reader refuses (a damaged layout, say) is not an image;
        // when nothing else is, the first refusal is the message.
        var firstRefusal: String?
        func isImage(_ name: String) -> [Int]? {
            let d: HDF5Dataset
            do {
                d = try HDF5Dataset(file: file, name: name)
            } catch {
                if firstRefusal == nil { firstRefusal = (error as? BeamlineError)?.message ?? "\(error)" }
                return nil
            }
            guard d.info.type_class == Int32(CHDF5_CLASS_INTEGER) || d.info.type_class == Int32(CHDF5_CLASS_FLOAT),
                  d.dims.count == 2 || d.dims.count == 3, d.dims.suffix(2).allSatisfy({ $0 >= 8 }) else { return nil }
            return d.dims
        }
        // NeXus: follow `default` from the root, at most a few hops, to a group with `signal`.
        var group = "/"
        var hops: [String] = []
        for _ in 0 ..< 6 {
            if let signal = try file.stringAttribute(group, "signal"), group != "/" {
                let name = join(group, signal)
                if isImage(name) != nil {
                    let chain = (hops + ["signal \(signal)"]).joined(separator: " → ")
                    return ([name], "NeXus default: \(chain)")
                }
                break
            }
            guard let next = try file.stringAttribute(group, "default"), !next.isEmpty else { break }
            group = join(group, next)
            hops.append("default \(next)")
            guard file.exists(group) else { break }
        }
        if file.exists("/entry/data/data") {
            return (["/entry/data/data"], "the NeXus/Eiger layout /entry/data/data")
        }
        var series: [String] = []
        while file.exists(String(format: "/entry/data/data_%06d", series.count + 1)) {
            series.append(String(format: "/entry/data/data_%06d", series.count + 1))
        }
        if !series.isEmpty { return (series, "the Eiger layout /entry/data/data_000001…") }

        let objects = try file.objects()
        let candidates = objects.filter { !$0.isGroup }.compactMap { object in
            isImage(object.path).map { (path: object.path, dims: $0) }
        }
        let detectorData = try candidates.filter { candidate in
            try candidate.path.hasSuffix("/data") && file.stringAttribute(
                String(candidate.path.dropLast(5)).isEmpty ? "/" : String(candidate.path.dropLast(5)), "NX_class") == "NXdetector"
        }
        if detectorData.count == 1 {
            return ([detectorData[0].path], "the data field of the NXdetector group")
        }
        if candidates.count == 1 {
            return ([candidates[0].path], "the only image dataset in the file")
        }
        if candidates.isEmpty, let firstRefusal {
            throw BeamlineError(path: path, "no readable 2D or 3D numeric dataset in the file; \(firstRefusal)")
        }
        if candidates.isEmpty {
            throw BeamlineError(path: path, "no 2D or 3D numeric dataset in the file (no NeXus default, no /entry/data/data)")
        }
        let listed = candidates.prefix(20).map { "\($0.path) (\($0.dims.map(String.init).joined(separator: "x")))" }
        throw BeamlineError(path: path, """
            several datasets could hold the image and the file does not say which (no NeXus default): \
            \(listed.joined(separator: ", "))\(candidates.count > 20 ? ", …" : ""); name one with --dataset
            """)
    }

    /// Reads the NeXus/Eiger instrument fields, converting by their `units` attribute.
    static func nexusMetadata(_ file: HDF5File) throws -> ImageMetadata {
        var meta = ImageMetadata()
        func quantity(_ paths: [String], toSI scale: (String) -> Double?) throws -> Double? {
            for p in paths {
                guard let v = try file.double(p), v.isFinite else { continue }
                let units = try file.stringAttribute(p, "units") ?? ""
                guard let factor = scale(units) else { continue }
                meta.header.append(HeaderEntry(p, units.isEmpty ? "\(v)" : "\(v) \(units)"))
                return v * factor
            }
            return nil
        }
        func length(_ units: String) -> Double? {
            switch units.lowercased() {
            case "", "m", "meter", "metre", "meters", "metres": 1
            case "mm", "millimeter", "millimetre": 1e-3
            case "um", "µm", "micron", "microns", "micrometer": 1e-6
            case "cm": 1e-2
            default: nil
            }
        }
        func wavelength(_ units: String) -> Double? {
            switch units.lowercased() {
            case "", "a", "å", "angstrom", "angstroms": 1
            case "nm": 10
            case "m": 1e10
            default: nil
            }
        }
        let instrument = "/entry/instrument"
        meta.wavelength = try quantity(["\(instrument)/beam/incident_wavelength",
                                        "\(instrument)/monochromator/wavelength"], toSI: wavelength)
        meta.distance = try quantity(["\(instrument)/detector/detector_distance", "\(instrument)/detector/distance"],
                                     toSI: length)
        meta.pixelSizeX = try quantity(["\(instrument)/detector/x_pixel_size"], toSI: length)
        meta.pixelSizeY = try quantity(["\(instrument)/detector/y_pixel_size"], toSI: length)
        meta.beamCenterX = try quantity(["\(instrument)/detector/beam_center_x"]) { _ in 1 }
        meta.beamCenterY = try quantity(["\(instrument)/detector/beam_center_y"]) { _ in 1 }
        let times = ["\(instrument)/detector/count_time", "\(instrument)/detector/frame_time"]
        meta.exposureTime = try quantity(times) { u in
            switch u.lowercased() {
            case "", "s", "second", "seconds": 1
            case "ms", "millisecond", "milliseconds": 1e-3
            case "us", "µs", "microsecond", "microseconds": 1e-6
            default: nil
            }
        }
        meta.date = try file.string("\(instrument)/detector/detectorSpecific/data_collection_date")
            ?? file.string("/entry/start_time")
        if let date = meta.date { meta.header.append(HeaderEntry("date", date)) }
        return meta
    }
}

/// Writes frame stacks as NeXus-style HDF5 (`/entry/data/data`, gzip per frame).
public enum HDF5Writer {
    public static func write(frames: [[Float]], width: Int, height: Int, to path: String,
                             dataset: String = "/entry/data/data", gzipLevel: Int = 4,
                             metadata: ImageMetadata = ImageMetadata()) throws {
        guard frames.allSatisfy({ $0.count == width * height }) else {
            throw BeamlineError(path: path, "every frame must hold \(width)x\(height) pixels")
        }
        var names: [String] = []
        var values: [Double] = []
        let instrument = "/entry/instrument"
        if let v = metadata.wavelength { names.append("\(instrument)/beam/incident_wavelength"); values.append(v) }
        if let v = metadata.distance { names.append("\(instrument)/detector/detector_distance"); values.append(v) }
        if let v = metadata.pixelSizeX { names.append("\(instrument)/detector/x_pixel_size"); values.append(v) }
        if let v = metadata.pixelSizeY { names.append("\(instrument)/detector/y_pixel_size"); values.append(v) }
        if let v = metadata.exposureTime { names.append("\(instrument)/detector/count_time"); values.append(v) }
        let flat = frames.flatMap { $0 }
        try AtomicFile.write(to: path) { temporary in
            var message = [CChar](repeating: 0, count: 2048)
            let cNames = names.map { strdup($0) }
            defer { cNames.forEach { free($0) } }
            let status = cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { namePointers in
                flat.withUnsafeBufferPointer { data in
                    chdf5_write_float_stack(temporary, dataset, data.baseAddress, UInt64(frames.count), UInt64(height),
                                            UInt64(width), Int32(gzipLevel), namePointers.baseAddress, values,
                                            Int32(values.count), &message, message.count)
                }
            }
            guard status == 0 else { throw BeamlineError(path: path, "HDF5: \(String(cBuffer: message))") }
        }
    }
}
