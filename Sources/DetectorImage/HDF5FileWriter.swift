import BeamlineSupport
import CHDF5
import Foundation

/// Writes an HDF5 file (a NeXus results file) object by object through the CHDF5 shim.
///
/// Owns the file: `close()` flushes and reports a failure as an error; an unclosed writer (a
/// thrown error on the way) closes the file in deinit and the caller's AtomicFile discards it.
/// Strings are variable-length UTF-8, as h5py writes them; numbers are float64.
public final class HDF5FileWriter {
    let id: Int64
    /// The path shown in errors (the final name, not the temporary one being written).
    let displayPath: String
    private var open = true

    public init(creating path: String, displayPath: String? = nil) throws {
        self.displayPath = displayPath ?? path
        var id: Int64 = -1
        var message = [CChar](repeating: 0, count: 2048)
        guard chdf5_create_file(path, &id, &message, message.count) == 0 else {
            throw BeamlineError(path: displayPath ?? path, "HDF5: \(String(cBuffer: message))")
        }
        self.id = id
    }

    deinit {
        if open { _ = chdf5_file_close(id) }
    }

    public func close() throws {
        guard open else { return }
        open = false
        var message = [CChar](repeating: 0, count: 2048)
        guard chdf5_close_written_file(id, &message, message.count) == 0 else {
            throw BeamlineError(path: displayPath, "HDF5: \(String(cBuffer: message))")
        }
    }

    private func check(_ object: String, _ call: (inout [CChar]) -> Int32) throws {
        var message = [CChar](repeating: 0, count: 2048)
        guard call(&message) == 0 else {
            throw BeamlineError(path: displayPath, "HDF5 \(object): \(String(cBuffer: message))")
        }
    }

    /// A group with its NeXus class (NXentry, NXdata, …).
    public func group(_ path: String, nxClass: String?) throws {
        try check(path) { chdf5_write_group(id, path, nxClass, &$0, $0.count) }
    }

    /// A float64 dataset of the given shape (row-major); an empty shape is a scalar.
    public func doubles(_ path: String, _ values: [Double], shape: [Int]? = nil) throws {
        let dims = (shape ?? [values.count]).map(UInt64.init)
        guard dims.reduce(1, *) == UInt64(values.count) else {
            throw BeamlineError(path: displayPath, "HDF5 \(path): \(values.count) values for the shape \(dims)")
        }
        try check(path) { message in
            values.withUnsafeBufferPointer { data in
                chdf5_write_doubles(id, path, data.baseAddress, Int32(dims.count), dims, &message, message.count)
            }
        }
    }

    public func double(_ path: String, _ value: Double) throws { try doubles(path, [value], shape: []) }

    /// A scalar string dataset.
    public func string(_ path: String, _ value: String) throws { try strings(path, [value], scalar: true) }

    /// A one-dimensional string dataset (or a scalar).
    public func strings(_ path: String, _ values: [String], scalar: Bool = false) throws {
        try withCStrings(values) { pointers in
            try check(path) {
                chdf5_write_strings(id, path, pointers, UInt64(values.count), scalar ? 1 : 0, &$0, $0.count)
            }
        }
    }

    /// A string attribute (a list of strings when `values` has more than one, or `list` is set: NeXus @axes).
    public func attribute(_ path: String, _ name: String, _ values: [String], list: Bool = false) throws {
        let scalar = values.count == 1 && !list
        try withCStrings(values) { pointers in
            try check("\(path)@\(name)") {
                chdf5_write_string_attribute(
                    id, path, name, pointers, UInt64(values.count), scalar ? 1 : 0, &$0, $0.count)
            }
        }
    }

    public func attribute(_ path: String, _ name: String, _ value: String) throws {
        try attribute(path, name, [value])
    }

    public func attribute(_ path: String, _ name: String, _ value: Double) throws {
        try check("\(path)@\(name)") { chdf5_write_double_attribute(id, path, name, value, &$0, $0.count) }
    }

    private func withCStrings(
        _ values: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> Void
    ) throws {
        let copies = values.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        try copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { try body($0.baseAddress) }
    }
}
