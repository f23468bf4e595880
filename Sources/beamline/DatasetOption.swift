import ArgumentParser

/// `--dataset`, shared by every command that reads detector images: which HDF5 dataset holds
/// the frames when the file's own attributes should not decide.
struct DatasetOption: ParsableArguments {
    @Option(help: """
        HDF5 dataset holding the frames (default: the file's NeXus default/signal chain, then \
        /entry/data/data, Eiger data_00000N, an NXdetector's data, or the only 2D/3D dataset; \
        see `beamline info`).
        """)
    var dataset: String?
}
