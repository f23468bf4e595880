import Foundation
import Testing

/// The `beamline` executable: exit codes and messages as a user sees them.
struct CLITests {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("beamline")
    }

    /// The repository this test file belongs to.
    static var repository: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DetectorImageTests/Fixtures")
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func infoDescribesImages() throws {
        let mar = Self.fixtures.appendingPathComponent("sample.mar2300").path
        let h5 = Self.fixtures.appendingPathComponent("sample_3frames_gzip.h5").path
        let result = try Self.run(["info", mar, h5])
        #expect(result.status == 0)
        #expect(result.stdout.contains("MAR345"))
        #expect(result.stdout.contains("2300 x 2300"))
        #expect(result.stdout.contains("0.3738 Å"))
        #expect(result.stdout.contains("frames      3"))
    }

    @Test func infoJSON() throws {
        let tif = Self.fixtures.appendingPathComponent("sample_u16.tif").path
        let result = try Self.run(["info", "--json", tif])
        #expect(result.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [[String: Any]]
        #expect(json[0]["format"] as? String == "TIFF")
        #expect(json[0]["pixelType"] as? String == "uint16")
        let stats = (json[0]["statistics"] as! [[String: Any]])[0]
        #expect(stats["max"] as? Double == 65535)
    }

    @Test func badInputExitsNonZeroNamingTheFile() throws {
        let missing = try Self.run(["info", "/no/such/image.cbf"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/no/such/image.cbf"))
        #expect(missing.stderr.contains("no such file"))

        let path = NSTemporaryDirectory() + "cli-truncated-\(getpid()).mar2300"
        let bytes = try Data(contentsOf: Self.fixtures.appendingPathComponent("sample.mar2300"))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: path))
        let truncated = try Self.run(["info", path])
        #expect(truncated.status != 0)
        #expect(truncated.stderr.contains(path))
        #expect(truncated.stderr.contains("truncated"))
    }

    /// A detector too small for the simulated beam stop and spots, or a pressure list with a word in
    /// it, is refused with the option named (a 16-pixel run used to stop on a range trap).
    @Test func simulateRefusesSizesAndPressuresItCannotDraw() throws {
        let dir = NSTemporaryDirectory() + "cli-simbad-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (arguments, message) in [(["--size", "16"], "--size must be from 32 to 8192 pixels, not 16"),
                                     (["--pressures", "1,two,3"], "--pressures must be non-negative numbers"),
                                     (["--pressures", "1,-2"], "--pressures must be non-negative numbers")] {
            let result = try Self.run(["simulate", "-o", dir] + arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("crashed"), "\(arguments)")
            #expect(!FileManager.default.fileExists(atPath: dir))
        }
    }

    @Test func convertWritesAtomicallyAndRoundTrips() throws {
        let mar = Self.fixtures.appendingPathComponent("sample.mar2300").path
        let out = NSTemporaryDirectory() + "cli-convert-\(getpid()).tif"
        let result = try Self.run(["convert", mar, out, "--integer"])
        #expect(result.status == 0, "\(result.stderr)")
        let info = try Self.run(["info", "--json", out])
        let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [[String: Any]]
        let stats = (json[0]["statistics"] as! [[String: Any]])[0]
        #expect(stats["max"] as? Double == 1_234_567)
        let bad = try Self.run(["convert", mar, NSTemporaryDirectory() + "x.png"])
        #expect(bad.status != 0)
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "x.png"))
    }

    @Test func integrateWritesPatternsWithProvenance() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("IntegrationTests/Fixtures")
        let out = NSTemporaryDirectory() + "cli-integrate-\(getpid())"
        let result = try Self.run(["integrate", fixtures.appendingPathComponent("small.tif").path,
                                   "--poni", fixtures.appendingPathComponent("small.poni").path,
                                   "--mask", fixtures.appendingPathComponent("small_mask.tif").path,
                                   "--bins", "400", "--split", "bbox", "--polarization", "0.99",
                                   "--format", "both", "--cake", "36", "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        let xy = try String(contentsOfFile: out + "/small.xy", encoding: .utf8)
        #expect(xy.contains("source=") && xy.contains("small.tif frame=0"))
        #expect(xy.contains("polarization_factor=0.99"))
        #expect(xy.contains("split=bbox bins=400 unit=q_A^-1"))
        #expect(xy.contains("beamline 0.1.0 integrate"))
        let rows = xy.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(rows.count > 300 && rows.count <= 400)
        #expect(FileManager.default.fileExists(atPath: out + "/small.chi"))
        #expect(FileManager.default.fileExists(atPath: out + "/small.cake.edf"))
        #expect(FileManager.default.fileExists(atPath: out + "/small.cake.edf.axes.txt"))
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).allSatisfy { !$0.hasPrefix(".") })
        // The same pattern in a NeXus file, as h5py reads it.
        let nexus = try Self.run(["integrate", fixtures.appendingPathComponent("small.tif").path,
                                  "--poni", fixtures.appendingPathComponent("small.poni").path, "--bins", "400",
                                  "-o", out + "/nx", "--nexus", out + "/nx/small.nxs"])
        #expect(nexus.status == 0, "\(nexus.stderr)")
        let read = try Self.comparePatternsWithH5py(out + "/nx/small.nxs", textDirectory: out + "/nx")
        #expect(read == "OK integrated 1" || read.hasPrefix("skipped"), "\(read)")
        // A progress line over several frames when asked (stderr is a pipe here): nothing otherwise.
        for name in ["a.tif", "b.tif"] {
            try? FileManager.default.removeItem(atPath: out + "/" + name)
            try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("small.tif").path, toPath: out + "/" + name)
        }
        let options = ["--poni", fixtures.appendingPathComponent("small.poni").path, "--bins", "100", "-o", out + "/two"]
        let quiet = try Self.run(["integrate", out + "/a.tif", out + "/b.tif"] + options)
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        let shown = try Self.run(["integrate", out + "/a.tif", out + "/b.tif", "--progress"] + options)
        #expect(shown.status == 0 && shown.stderr.contains("integrate: 1/2 frames") && shown.stderr.contains("integrate: 2/2 frames"),
                "\(shown.stderr)")
    }

    /// The real Pilatus crop's gap pixels (−2) are left out by default: the same pattern as
    /// masking every negative pixel by hand, and unlike integrating them as counts.
    @Test func integrateLeavesOutGapPixelsByDefault() throws {
        let image = Self.fixtures.appendingPathComponent("real/pilatus1m_crop.tif").path
        let dir = NSTemporaryDirectory() + "cli-validity-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let poni = dir + "/crop.poni"
        try """
            PixelSize1: 0.000172
            PixelSize2: 0.000172
            Distance: 0.2
            Poni1: 0.06
            Poni2: 0.085
            Rot1: 0
            Rot2: 0
            Rot3: 0
            Wavelength: 4.066e-11
            """.write(toFile: poni, atomically: true, encoding: .utf8)
        let common = ["--poni", poni, "--bins", "300", "--split", "bbox", "--unit", "2th_deg"]
        let info = try Self.run(["info", image])
        #expect(info.stdout.contains("invalid 17961: 17961 negative (module gap or defective pixel)"))
        let byDefault = try Self.run(["integrate", image, "-o", dir + "/default"] + common)
        #expect(byDefault.status == 0, "\(byDefault.stderr)")
        let mask = try Self.run(["mask", image, "--low", "0", "--no-validity-mask", "-o", dir + "/negative.tif"])
        #expect(mask.status == 0, "\(mask.stderr)")
        let byHand = try Self.run(["integrate", image, "-o", dir + "/byhand", "--no-validity-mask", "--mask", dir + "/negative.tif"] + common)
        let kept = try Self.run(["integrate", image, "-o", dir + "/kept", "--no-validity-mask"] + common)
        #expect(byHand.status == 0 && kept.status == 0)
        func rows(_ name: String) throws -> [[Double]] {
            try String(contentsOfFile: dir + "/\(name)/pilatus1m_crop.xy", encoding: .utf8).split(separator: "\n")
                .filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").compactMap { Double($0) } }
        }
        let a = try rows("default"), b = try rows("byhand"), c = try rows("kept")
        #expect(a.count == 300 && b.count == 300)
        #expect(zip(a, b).allSatisfy { abs($0[1] - $1[1]) <= 1e-6 * max(1, abs($1[1])) })
        // Gap pixels integrated as −2 pull the mean down in the bins that cross the gap.
        #expect(zip(a, c).contains { $0[1] - $1[1] > 0.01 * abs($0[1]) })
        let header = try String(contentsOfFile: dir + "/default/pilatus1m_crop.xy", encoding: .utf8)
        #expect(header.contains("detector validity"))
    }

    @Test func integrateRefusesMismatchedGeometry() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("IntegrationTests/Fixtures")
        let mar = Self.fixtures.appendingPathComponent("sample.mar2300").path
        let result = try Self.run(["integrate", mar, "--poni", fixtures.appendingPathComponent("small.poni").path,
                                   "-o", NSTemporaryDirectory() + "cli-mismatch-\(getpid())"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(mar))
        #expect(result.stderr.contains("2300x2300"))
        let badPoni = NSTemporaryDirectory() + "bad-\(getpid()).poni"
        try "Distance: -3\nPoni1: 0.1\nPoni2: 0.1\nPixelSize1: 1e-4\nPixelSize2: 1e-4\n".write(toFile: badPoni, atomically: true, encoding: .utf8)
        let bad = try Self.run(["integrate", mar, "--poni", badPoni, "-o", NSTemporaryDirectory() + "x"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains(badPoni) && bad.stderr.contains("Distance"))
    }

    @Test func rubyPressureTableAndFile() throws {
        let dir = NSTemporaryDirectory() + "cli-ruby-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A synthetic spectrum: R1 at 697.000 nm, R2 1.47 nm below, at 296 K.
        var text = "# Spectrometer export\nWavelength (nm)\tIntensity (counts)\n"
        var wavelength = 685.0
        while wavelength < 708 {
            func pv(_ c: Double) -> Double { let u = (wavelength - c) / 0.4; return 0.6 / (1 + 4 * u * u) + 0.4 * exp(-log(2) * 4 * u * u) }
            text += String(format: "%.4f\t%.0f\n", wavelength, 400 + 20000 * pv(697.0) + 11000 * pv(695.53))
            wavelength += 0.02
        }
        let spectrum = dir + "/point1.txt"
        try text.write(toFile: spectrum, atomically: true, encoding: .utf8)
        let result = try Self.run(["pressure", "ruby", spectrum, "--temperature", "296", "--scale", "shen2020"])
        #expect(result.status == 0, "\(result.stderr)")
        let x = (697.0 - 694.25) / 694.25
        let expected = 1870 * x * (1 + 5.63 * x)
        #expect(result.stdout.contains(String(format: "%.3f", expected)), "\(result.stdout)")
        let file = try String(contentsOfFile: dir + "/point1.pressure", encoding: .utf8)
        #expect(file.contains("pressure_GPa=") && file.contains("scale=shen2020"))
        // Out of the temperature correction's range: refused, nothing written.
        try FileManager.default.removeItem(atPath: dir + "/point1.pressure")
        let hot = try Self.run(["pressure", "ruby", spectrum, "--temperature", "2000"])
        #expect(hot.status != 0)
        #expect(hot.stderr.contains(spectrum) && hot.stderr.contains("outside"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/point1.pressure"))
    }

    @Test func sqWritesFilesAndRefusesUnknownElements() throws {
        let dir = NSTemporaryDirectory() + "cli-sq-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var text = "# wavelength_A=0.3738\n# columns: q_A^-1 I sigma\n"
        var background = "# columns: q_A^-1 I sigma\n"
        var q = 0.3
        while q < 12 {
            text += String(format: "%.4f %.4f 1\n", q, 2000 + 500 * exp(-q / 3) + 300 * sin(2.5 * q) * exp(-0.3 * q))
            background += String(format: "%.4f %.4f 1\n", q, 200 + 100 * exp(-q / 3))
            q += 0.01
        }
        try text.write(toFile: dir + "/glass.xy", atomically: true, encoding: .utf8)
        try background.write(toFile: dir + "/empty.xy", atomically: true, encoding: .utf8)
        let ok = try Self.run(["sq", dir + "/glass.xy", "--background", dir + "/empty.xy", "--bg-scale", "0.9",
                               "--composition", "Ce65Co25Al10", "--density", "0.035", "--lorch", "-o", dir + "/out"])
        #expect(ok.status == 0, "\(ok.stderr)")
        for ext in ["iq", "sq", "fq", "gr"] {
            let content = try String(contentsOfFile: dir + "/out/glass.\(ext)", encoding: .utf8)
            #expect(content.contains("composition=Ce65Co25Al10"))
            #expect(content.contains("sha256="))
            #expect(content.contains("bg_scale=0.9"))
        }
        let nexus = try Self.run(["sq", dir + "/glass.xy", "--background", dir + "/empty.xy", "--bg-scale", "0.9",
                                  "--composition", "Ce65Co25Al10", "--density", "0.035", "-o", dir + "/nx",
                                  "--nexus", dir + "/nx/sq.nxs"])
        #expect(nexus.status == 0, "\(nexus.stderr)")
        let read = try Self.comparePatternsWithH5py(dir + "/nx/sq.nxs", textDirectory: dir + "/nx")
        #expect(read == "OK sq 1 fq 1 gr 1" || read.hasPrefix("skipped"), "\(read)")
        // Options from a config file; the command line wins.
        try "composition = SiO2\nbackground = \(dir)/empty.xy\nbg_scale = 0.5\nlorch = true\n".write(toFile: dir + "/sq.conf", atomically: true, encoding: .utf8)
        let configured = try Self.run(["sq", dir + "/glass.xy", "--config", dir + "/sq.conf", "--bg-scale", "0.7", "-o", dir + "/out4"])
        #expect(configured.status == 0, "\(configured.stderr)")
        let header = try String(contentsOfFile: dir + "/out4/glass.sq", encoding: .utf8)
        #expect(header.contains("composition=SiO2") && header.contains("bg_scale=0.7") && header.contains("lorch=true"))
        let bad = try Self.run(["sq", dir + "/glass.xy", "--composition", "Ce65Qq35", "-o", dir + "/out2"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("Qq"))
        let beyond = try Self.run(["sq", dir + "/glass.xy", "--composition", "SiO2", "--qmax", "30", "-o", dir + "/out3"])
        #expect(beyond.status != 0)
        #expect(beyond.stderr.contains("beyond the data"))
    }

    @Test func calibrateAndMaskFromTheCommandLine() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("IntegrationTests/Fixtures")
        let dir = NSTemporaryDirectory() + "cli-cal-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A calibrant-free image cannot be calibrated: refused, no .poni written.
        let refused = try Self.run(["calibrate", fixtures.appendingPathComponent("small.tif").path, "--calibrant", "CeO2",
                                    "--wavelength", "0.6199", "--pixel", "172", "-o", dir + "/g.poni"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("small.tif"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/g.poni"))
        let mask = try Self.run(["mask", fixtures.appendingPathComponent("small.tif").path, "--circle", "160,150,20",
                                 "--rectangle", "0,0,10,300", "--low", "1", "-o", dir + "/m.edf"])
        #expect(mask.status == 0, "\(mask.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/m.edf"))
        let listing = try Self.run(["calibrant", "LaB6"])
        #expect(listing.stdout.contains("4.156826 1 0 0 6"))
    }

    /// Runs `make -j2` in `directory` with our executable and calibration tables.
    /// Every curve of a NeXus file's /entry/{integrated,sq,fq,gr} against the text file of the same
    /// name in `textDirectory`, read with h5py: "OK" and the counts, the first difference, or "skipped".
    static func comparePatternsWithH5py(_ file: String, textDirectory: String) throws -> String {
        let script = """
            import sys
            try:
                import h5py, numpy as np
            except ImportError:
                print("skipped: no h5py for /usr/bin/python3"); sys.exit(0)
            f = h5py.File(sys.argv[1], "r"); e = f["entry"]; found = []
            for group, ext, signal in [("integrated", "xy", "I"), ("sq", "sq", "S"), ("fq", "fq", "F"), ("gr", "gr", "G")]:
                if group not in e: continue
                for name in e[group]:
                    g = e[group][name]; x = np.loadtxt(sys.argv[2] + "/" + name + "." + ext)
                    axis = g.attrs["axes"]; axis = axis.decode() if isinstance(axis, bytes) else str(axis)
                    if not (np.array_equal(g[axis][()], x[:, 0]) and np.array_equal(g[signal][()], x[:, 1])):
                        print("differs:", group, name); sys.exit(1)
                found.append(group + " " + str(len(e[group])))
            print("OK " + " ".join(found))
            """
        return try python(script, [file, textDirectory])
    }

    /// Debian's python3 (not a virtual environment's) running `script`: its output, trimmed.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return "skipped: no /usr/bin/python3" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Opens OUT/results.nxs with h5py (Debian's python3-h5py, which `make deps` installs) and compares
    /// it with the text files: "OK" and the counts, the first difference, or "skipped" without h5py.
    static func checkNeXusWithH5py(_ out: String) throws -> String {
        let script = """
            import sys, hashlib, os
            try:
                import h5py, numpy as np
            except ImportError:
                print("skipped: no h5py for /usr/bin/python3 (make deps installs python3-h5py)"); sys.exit(0)
            out = sys.argv[1]
            f = h5py.File(out + "/results.nxs", "r")
            def text(v): return v.decode() if isinstance(v, bytes) else str(v)
            assert text(f.attrs["NX_class"]) == "NXroot" and text(f.attrs["default"]) == "entry"
            e = f["entry"]
            assert text(e.attrs["NX_class"]) == "NXentry" and text(e["definition"][()]) == "NXazint1d"
            def same(a, b, what):
                if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
                    print("differs:", what); sys.exit(1)
            counts = {}
            for name in e["integrated"]:
                x = np.loadtxt(out + "/integrated/" + name + ".xy"); g = e["integrated"][name]
                assert text(g.attrs["signal"]) == "I" and text(g.attrs["axes"]) == "q"
                same(g["q"][()], x[:, 0], name + " q"); same(g["I"][()], x[:, 1], name + " I")
                same(g["I_errors"][()], x[:, 2], name + " sigma")
                counts["integrated"] = counts.get("integrated", 0) + 1
            for group, ext, signal, axis in [("sq", "sq", "S", "q"), ("fq", "fq", "F", "q"), ("gr", "gr", "G", "r")]:
                for name in e[group]:
                    x = np.loadtxt(out + "/sq/" + name + "." + ext); g = e[group][name]
                    same(g[axis][()], x[:, 0], name + " " + group + " x"); same(g[signal][()], x[:, 1], name + " " + group)
                    counts[group] = counts.get(group, 0) + 1
            d = e["data"]
            assert list(map(text, d.attrs["axes"])) == [".", "q"] and text(d.attrs["signal"]) == "I"
            for k, name in enumerate(map(text, d["name"][()])):
                x = np.loadtxt(out + "/integrated/" + name + ".xy")
                row = d["I"][k]; grid = d["q"][()]
                same(grid[np.isfinite(row)], x[:, 0], name + " stack q"); same(row[np.isfinite(row)], x[:, 1], name + " stack I")
                counts["stack"] = counts.get("stack", 0) + 1
            p = e["peaks"]
            lines = [l.split("\t") for l in open(out + "/peaks.tsv") if not l.startswith("#")]
            header, rows = lines[0], lines[1:]
            for c, column in enumerate(header):
                column = column.strip()
                if column == "name": continue
                same(p[column][()], np.array([float(r[c]) for r in rows]), "peaks " + column)
            counts["peaks"] = len(rows)
            files = list(map(text, e["reduction/input/files"][()])); sums = list(map(text, e["reduction/input/sha256"][()]))
            for path, digest in zip(files, sums):
                if hashlib.sha256(open(path, "rb").read()).hexdigest() != digest: print("checksum differs:", path); sys.exit(1)
            assert any(path.endswith(".mar640") for path in files), "raw images missing from the provenance"
            print("OK", " ".join(k + " " + str(counts[k]) for k in ["integrated", "sq", "fq", "gr", "stack", "peaks"]))
            """
        return try python(script, [out])
    }

    /// The page's DOM after headless Chromium has laid it out and run its scripts.
    static func renderedDOM(_ chromium: String, page: String) throws -> (status: Int32, dom: String) {
        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: chromium)
        browser.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page]
        let out = Pipe()
        browser.standardOutput = out
        browser.standardError = FileHandle.nullDevice
        try browser.run()
        let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        browser.waitUntilExit()
        return (browser.terminationStatus, dom)
    }

    /// Renders `page` in headless Chromium with a script that compares the laid-out boxes of every
    /// picture's texts: the lines "picture: text | text" for each overlapping pair and "picture: outside
    /// text" for a text beyond its picture, inside one string (empty when all is well).
    static func textOverlapsInChromium(_ chromium: String, page: String) throws -> [String] {
        let script = """
            <script>
            const found = [];
            document.querySelectorAll('svg').forEach((svg, n) => {
              const frame = svg.getBoundingClientRect();
              const texts = [...svg.querySelectorAll('text')].map(t => ({s: t.textContent, r: t.getBoundingClientRect()}))
                .filter(t => t.r.width > 0);
              for (let i = 0; i < texts.length; i++) {
                const a = texts[i].r;
                if (a.left < frame.left - 0.5 || a.right > frame.right + 0.5 || a.top < frame.top - 0.5 || a.bottom > frame.bottom + 0.5)
                  found.push(n + ': outside ' + texts[i].s);
                for (let j = i + 1; j < texts.length; j++) {
                  const b = texts[j].r;
                  if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
                    found.push(n + ': ' + texts[i].s + ' | ' + texts[j].s);
                }
              }
            });
            const out = document.createElement('pre');
            out.id = 'text-check';
            out.textContent = 'BEGIN' + found.join('\\n') + 'END';
            document.body.appendChild(out);
            </script>
            """
        let checked = page + ".check.html"
        let html = try String(contentsOfFile: page, encoding: .utf8).replacingOccurrences(of: "</body>", with: script + "</body>")
        try html.write(toFile: checked, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: checked) }
        let dom = try Self.renderedDOM(chromium, page: checked).dom
        guard let start = dom.range(of: "BEGIN", options: .backwards), let end = dom.range(of: "END", range: start.upperBound ..< dom.endIndex)
        else { return ["the check script did not run"] }
        return [String(dom[start.upperBound ..< end.lowerBound])]
    }

    static func make(in directory: String, _ extra: [String] = [], environment added: [String: String] = [:]) throws -> Result {
        let repository = Self.repository
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["make", "-C", directory, "-j2", "BEAMLINE=\(executable.path)"] + extra
        var environment = ProcessInfo.processInfo.environment.merging(added) { $1 }
        environment["BEAMLINE_CALIBRATION"] = repository.appendingPathComponent("calibration").path
        process.environment = environment
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let o = stdout.fileHandleForReading.readDataToEndOfFile(), e = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs pipelines/NAME with its output in a temporary directory.
    static func pipeline(_ name: String, out: String) throws -> Result {
        let repository = Self.repository
        return try make(in: repository.appendingPathComponent("pipelines/" + name).path, ["OUT=\(out)"])
    }

    /// Rows of a peak table as column → value.
    static func peakTable(_ path: String) throws -> [[String: String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        let columns = lines[0].split(separator: "\t").map(String.init)
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(columns, $0.split(separator: "\t").map(String.init))) }
    }

    static var devRunTruth: [String: Any]? {
        let path = repository.deletingLastPathComponent().appendingPathComponent("shared/data/dev-run/truth.json").path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// The dev run of ../shared through pipelines/dev-run, against truth.json: pressures, Q1,
    /// widths, the 390 K step, the smooth 293 K change and the negative thermal expansion.
    @Test func devRunPipelineAgainstTruth() throws {
        guard let truth = Self.devRunTruth else { print("skipped: ../shared is not present (dev-run pipeline)"); return }
        let out = NSTemporaryDirectory() + "dev-run-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Self.pipeline("dev-run", out: out)
        #expect(run.status == 0, "\(run.stderr)")
        let samples = Dictionary(uniqueKeysWithValues: (truth["samples"] as! [[String: Any]]).map { ($0["name"] as! String, $0) })
        let rows = try Self.peakTable(out + "/peaks.tsv")
        #expect(rows.count == samples.count)
        for row in rows {
            let sample = try #require(samples[row["name"]!])
            #expect(abs(Double(row["pressure_GPa"]!)! - (sample["pressure_GPa"] as! Double)) < 0.05, "\(row["name"]!) pressure")
            #expect(abs(Double(row["Q1"]!)! - (sample["Q1"] as! Double)) < 0.002, "\(row["name"]!) Q1")
            // run.conf gives no background scale: refined with the density from each pattern.
            #expect(abs(Double(row["bg_scale"]!)! / (truth["bg_scale"] as! Double) - 1) < 0.01, "\(row["name"]!) bg_scale")
            #expect(abs(Double(row["width_half_height"]!)! / (sample["fwhm_half_height"] as! Double) - 1) < 0.03, "\(row["name"]!) width")
        }
        let series = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/series.json"))) as! [String: Any]
        let expected = truth["transitions"] as! [String: Double]
        for iso in series["isotherms"] as! [[String: Any]] {
            let q1 = (iso["transitions"] as! [[String: Any]]).filter { $0["quantity"] as? String == "Q1" }
            let steps = q1.filter { $0["kind"] as? String == "discontinuous" }
            if iso["temperature_K"] as? Double == 390 {
                #expect(steps.count == 1 && abs((steps.first?["pressure_GPa"] as? Double ?? 0) - expected["step_390K_GPa"]!) <= 0.3, "\(q1)")
            } else {
                #expect(steps.isEmpty, "\(q1)")
                #expect(q1.contains { abs(($0["pressure_GPa"] as! Double) - expected["smooth_293K_GPa"]!) <= ($0["sigma_GPa"] as! Double) }, "\(q1)")
            }
        }
        // Q1 is higher at 390 K below 10 GPa (negative thermal expansion). With seven pressures per
        // isotherm the ±3σ band is wide; the windows must still tile the common range.
        let band = try #require((series["thermal_expansion_bands"] as! [[String: Any]]).first)
        let pressures = band["pressure_GPa"] as! [Double], difference = band["dQ1"] as! [Double]
        #expect(zip(pressures, difference).filter { $0.0 > 5.6 && $0.0 < 10 }.allSatisfy { $0.1 > 0 }, "\(difference)")
        let windows = series["thermal_expansion"] as! [[String: Any]]
        #expect(windows.first?["from_is_data_limit"] as? Bool == true && windows.last?["to_is_data_limit"] as? Bool == true)
        for (a, b) in zip(windows, windows.dropFirst()) { #expect(a["to_GPa"] as? Double == b["from_GPa"] as? Double) }
    }

    /// The gold time series of ../shared through pipelines/gold-run (HDF5 frames, Au standard,
    /// times): pressures from the Au rings and a Q1 that settles as the truth's does.
    @Test func goldRunPipelineAgainstTruth() throws {
        guard let truth = Self.devRunTruth else { print("skipped: ../shared is not present (gold pipeline)"); return }
        let out = NSTemporaryDirectory() + "gold-run-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Self.pipeline("gold-run", out: out)
        #expect(run.status == 0, "\(run.stderr)")
        let frames = (truth["gold"] as! [String: Any])["frames"] as! [[String: Double]]
        let rows = try Self.peakTable(out + "/peaks.tsv")
        #expect(rows.count == frames.count)
        for (row, frame) in zip(rows, frames) {
            #expect(abs(Double(row["pressure_GPa"]!)! - frame["pressure_GPa"]!) < 0.05, "\(row["name"]!) pressure")
            #expect(Double(row["time_min"]!)! == frame["time_min"]!)
        }
        let series = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/series.json"))) as! [String: Any]
        let relaxation = try #require((series["relaxation"] as! [[String: Any]]).first)
        #expect(relaxation["model"] as? String == "exponential")
        let change = frames.last!["Q1"]! - frames.first!["Q1"]!
        #expect(abs((relaxation["q1_change"] as? Double ?? 0) - change) < 3e-4, "\(relaxation)")
    }

    /// A simulated run in HDF5 with gold in the cell, reduced from the run.conf the simulator
    /// writes: pressures from the Au rings, the step at the higher temperature.
    @Test func simulatedGoldRunThroughThePipeline() throws {
        let repository = Self.repository
        let dir = NSTemporaryDirectory() + "gold-sim-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let simulated = try Self.run(["simulate", "-o", dir, "--gold", "--hdf5", "--size", "1000"])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        try "CONFIG = run.conf\nOUT = out\ninclude \(repository.path)/pipelines/dac.mk\n".write(toFile: dir + "/Makefile", atomically: true, encoding: .utf8)
        let run = try Self.make(in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/truth.json"))) as! [String: Any]
        let points = Dictionary(uniqueKeysWithValues: (truth["points"] as! [[String: Any]]).map { ($0["name"] as! String, $0) })
        let rows = try Self.peakTable(dir + "/out/peaks.tsv")
        #expect(rows.count == 14)
        for row in rows {
            let expected = try #require(points[row["name"]!]?["pressure"] as? Double)
            #expect(abs(Double(row["pressure_GPa"]!)! - expected) < 0.1, "\(row["name"]!): \(row["pressure_GPa"]!) GPa from Au, truth \(expected)")
        }
        let series = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/series.json"))) as! [String: Any]
        let hot = (series["isotherms"] as! [[String: Any]]).first { $0["temperature_K"] as? Double == 390 }
        let steps = (hot?["transitions"] as? [[String: Any]] ?? []).filter { $0["quantity"] as? String == "Q1" && $0["kind"] as? String == "discontinuous" }
        #expect(steps.count == 1 && abs((steps.first?["pressure_GPa"] as? Double ?? 0) - (truth["step_pressure_GPa"] as! Double)) <= 0.3, "\(steps)")
    }

    /// A draft configuration from a simulated run's directory: calibrant, empty cell, samples
    /// with temperatures from their names and their ruby spectra; `plan` accepts it.
    @Test func initDraftsAConfiguration() throws {
        let dir = NSTemporaryDirectory() + "init-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let simulated = try Self.run(["simulate", "-o", dir + "/data", "--size", "200", "--pressures", "1,3"])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        let drafted = try Self.run(["init", dir + "/data", "-o", dir + "/run.conf", "--composition", "Ce65Co25Al10"])
        #expect(drafted.status == 0, "\(drafted.stderr)")
        let text = try String(contentsOfFile: dir + "/run.conf", encoding: .utf8)
        #expect(text.contains("calibrant_image = data/images/CeO2.mar200") && text.contains("calibrant = CeO2"))
        #expect(text.contains("empty_cell = data/images/empty_cell.mar200"))
        #expect(text.contains("glass_390K_01  data/images/glass_390K_01.mar200  -  390  ruby:data/ruby/glass_390K_01.txt"))
        let planned = try Self.run(["plan", dir + "/run.conf", "--output-dir", dir + "/out"])
        #expect(planned.status == 0, "\(planned.stderr)")
        #expect(planned.stdout.contains("4 samples"))
        let again = try Self.run(["init", dir + "/data", "-o", dir + "/run.conf"])
        #expect(again.status != 0 && again.stderr.contains("exists already"))
    }

    /// A run configuration becomes make variables; mistakes are refused naming the file and line.
    /// `simulate` killed part-way leaves no run that make would take as done (the directory
    /// appears only when complete), and the next run clears what the killed one left.
    @Test func killedSimulationLeavesNoRun() throws {
        let dir = NSTemporaryDirectory() + "cli-simkill-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["simulate", "-o", dir + "/data", "--size", "640"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 0.6)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: dir + "/data"), "a killed simulation left data/ behind")
        let again = try Self.run(["simulate", "-o", dir + "/data", "--size", "160"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/data/run.conf"))
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(left == ["data"], "\(left)")
    }

    /// `peaks` writes its table, the file make waits for, only after every ΔS(Q) file: a run that
    /// cannot write the ΔS(Q) files leaves no table that make would take as done.
    @Test func peakTableIsWrittenAfterTheDeltaS() throws {
        let dir = NSTemporaryDirectory() + "cli-peaks-order-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var files: [String] = []
        for (index, q1) in [2.50, 2.55, 2.60].enumerated() {
            var text = "# columns: Q(1/A) S(Q)\n"
            for i in 0 ..< 900 {
                let q = 0.5 + Double(i) * 0.01
                let s = 1 + 1.5 * exp(-pow(q - q1, 2) / (2 * 0.15 * 0.15))
                    + 0.5 * exp(-pow(q - 1.7 * q1, 2) / (2 * 0.3 * 0.3))
                text += "\(q) \(s)\n"
            }
            let path = dir + "/s\(index).sq"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        try "name\ttemperature_K\tpressure_GPa\ns0\t300\t1\ns1\t300\t2\ns2\t300\t3\n"
            .write(toFile: dir + "/conditions.tsv", atomically: true, encoding: .utf8)
        // A plain file where the ΔS(Q) directory should be: the ΔS(Q) files cannot be written.
        try "".write(toFile: dir + "/delta_s", atomically: true, encoding: .utf8)
        let blocked = try Self.run(["peaks"] + files + ["--conditions", dir + "/conditions.tsv",
                                                        "--delta-s", dir + "/delta_s", "-o", dir + "/peaks.tsv"])
        #expect(blocked.status != 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/peaks.tsv"), "a table without its ΔS(Q) files")
        try FileManager.default.removeItem(atPath: dir + "/delta_s")
        let done = try Self.run(["peaks"] + files + ["--conditions", dir + "/conditions.tsv",
                                                     "--delta-s", dir + "/delta_s", "-o", dir + "/peaks.tsv"])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try Self.peakTable(dir + "/peaks.tsv").count == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/delta_s").sorted() == ["s1.ds", "s2.ds"])
    }

    /// The example run's make killed (SIGKILL to its whole process group: make, sub-makes and every
    /// beamline command) at moments spread over the run, then run again: each rerun finishes, and
    /// every output equals an uninterrupted run's (comment lines and input paths aside).
    @Test func interruptedPipelineRecovers() throws {
        let repository = Self.repository
        let base = NSTemporaryDirectory() + "interrupted-\(getpid())"
        try? FileManager.default.removeItem(atPath: base)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/pipelines/example", withIntermediateDirectories: true)
        for file in ["pipelines/dac.mk", "pipelines/example/Makefile", "pipelines/example/run.conf"] {
            try FileManager.default.copyItem(atPath: repository.appendingPathComponent(file).path, toPath: base + "/" + file)
        }
        let example = base + "/pipelines/example"
        // The first make simulates the data; the second, timed, is the uninterrupted reduction.
        let simulated = try Self.make(in: example)
        #expect(simulated.status == 0, "\(simulated.stderr)")
        try FileManager.default.removeItem(atPath: example + "/out")
        let clock = Date()
        let reference = try Self.make(in: example)
        let duration = Date().timeIntervalSince(clock)
        #expect(reference.status == 0, "\(reference.stderr)")
        try FileManager.default.moveItem(atPath: example + "/out", toPath: base + "/reference")
        func outputs(_ out: String) throws -> [String: [Substring]] {
            var found: [String: [Substring]] = [:]
            for folder in ["integrated", "sq", "pressure", "delta_s", "outcome", "."] {
                for file in try FileManager.default.contentsOfDirectory(atPath: out + "/" + folder)
                where [".xy", ".sq", ".gr", ".fq", ".iq", ".pressure", ".ds", ".txt", ".tsv", ".json"].contains(where: { file.hasSuffix($0) }) {
                    found[folder + "/" + file] = try String(contentsOfFile: "\(out)/\(folder)/\(file)", encoding: .utf8)
                        .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("source=") }
                }
            }
            return found
        }
        let expected = try outputs(base + "/reference")
        #expect(expected.count > 60)
        // The data stay; the reduction starts from nothing each time.
        var interrupted = 0
        for fraction in [0.1, 0.3, 0.5, 0.7, 0.9] {
            try? FileManager.default.removeItem(atPath: example + "/out")
            // make in a process group of its own (bash's job control), its id written down to kill the group.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            let group = base + "/make.pgid"
            try? FileManager.default.removeItem(atPath: group)
            process.arguments = ["-c", "set -m; make -C '\(example)' -j2 'BEAMLINE=\(Self.executable.path)' & "
                                 + "echo $! > '\(group)'; wait $!"]
            var environment = ProcessInfo.processInfo.environment
            environment["BEAMLINE_CALIBRATION"] = repository.appendingPathComponent("calibration").path
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: fraction * duration)
            let pgid = Int32((try? String(contentsOfFile: group, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            #expect(pgid > 1, "make's process group")
            if pgid > 1 { kill(-pgid, SIGKILL) }
            process.waitUntilExit()
            if !FileManager.default.fileExists(atPath: example + "/out/report.html") { interrupted += 1 }
            let rerun = try Self.make(in: example)
            #expect(rerun.status == 0, "after a kill at \(fraction) of the run: \(rerun.stderr)")
            let got = try outputs(example + "/out")
            #expect(Set(got.keys) == Set(expected.keys), "after a kill at \(fraction): files differ")
            let differing = expected.keys.filter { got[$0] != expected[$0] }.sorted()
            #expect(differing.isEmpty, "after a kill at \(fraction) of the run, these differ: \(differing)")
        }
        // The last kills may come just after the end.
        #expect(interrupted >= 3, "only \(interrupted) of 5 kills interrupted the run")
        print("interrupted pipeline: \(interrupted) of 5 kills during the run (reference \(Int(duration)) s), all recovered")
    }

    /// A second make on an output directory that a running make holds refuses, naming the
    /// owner, and writes nothing.
    @Test func secondMakeOnTheSameOutputRefuses() throws {
        let out = NSTemporaryDirectory() + "cli-lock-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        // This test's own process stands for the running make.
        try FileManager.default.createSymbolicLink(atPath: out + "/.lock", withDestinationPath: "\(getpid())")
        let refused = try Self.pipeline("dev-run", out: out)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is being written by another make (process \(getpid())"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == [".lock"])
    }

    @Test func planChecksTheRunConfiguration() throws {
        let dir = NSTemporaryDirectory() + "plan-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        for file in ["CeO2.tif", "empty.tif", "a.h5", "a.txt"] { try Data().write(to: URL(fileURLWithPath: dir + "/data/" + file)) }
        let good = """
            [run]
            calibrant_image = data/CeO2.tif
            calibrant = CeO2
            empty_cell = data/empty.tif   # the cell without sample
            composition = Ce65Co25Al10
            [integration]
            bins = 1500
            [samples]
            s1  data/a.h5  3  390  ruby:data/a.txt  15
            s2  data/a.h5  4  390  standard
            s3  data/a.h5  5  293  5.2  30

            """
        try good.write(toFile: dir + "/run.conf", atomically: true, encoding: .utf8)
        let planned = try Self.run(["plan", dir + "/run.conf", "--output-dir", dir + "/out"])
        #expect(planned.status == 0, "\(planned.stderr)")
        let makefile = try String(contentsOfFile: dir + "/out/run.mk", encoding: .utf8)
        #expect(makefile.contains("SAMPLES = s1 s2 s3") && makefile.contains("frame.s2 = 4") && makefile.contains("pressure.s2 = standard"))
        #expect(makefile.contains("ruby.s1 = \(dir)/data/a.txt") && makefile.contains("BINS.default = 1500") && makefile.contains("POLARIZATION.default = 0.99"))
        let conditions = try String(contentsOfFile: dir + "/out/conditions.tsv", encoding: .utf8)
        #expect(conditions.contains("s3\t293.0\t5.2\t30.0") && conditions.contains("s1\t390.0\tnan\t15.0"))
        // The background scale: refined by default; auto, match:QA:QB and numbers accepted.
        #expect(makefile.contains("BG_SCALE.default = refine"))
        for scale in ["auto", "match:0.4:0.9", "0.93"] {
            let edited = good.replacingOccurrences(of: "composition =", with: "bg_scale = \(scale)\ncomposition =")
            try edited.write(toFile: dir + "/scale.conf", atomically: true, encoding: .utf8)
            let accepted = try Self.run(["plan", dir + "/scale.conf", "--output-dir", dir + "/scale"])
            #expect(accepted.status == 0, "\(scale): \(accepted.stderr)")
        }
        for (edit, message) in [
            (good.replacingOccurrences(of: "bins = 1500", with: "binz = 1500"), "bad.conf:7: unknown key binz"),
            (good.replacingOccurrences(of: "composition = Ce65Co25Al10\n", with: ""), "[run] needs composition"),
            (good.replacingOccurrences(of: "standard\n", with: "gold\n"), "bad.conf:10: pressure gold"),
            (good.replacingOccurrences(of: "data/a.txt", with: "data/missing.txt"), "missing.txt does not exist"),
            (good.replacingOccurrences(of: "s2  data", with: "s1  data"), "sample s1 appears twice"),
            (good.replacingOccurrences(of: "composition =", with: "bg_scale = guess\ncomposition ="), "bg_scale = guess"),
        ] {
            try edit.write(toFile: dir + "/bad.conf", atomically: true, encoding: .utf8)
            let refused = try Self.run(["plan", dir + "/bad.conf", "--output-dir", dir + "/bad"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains(message), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/bad/run.mk"))
        }
    }

    /// The example pipeline on a generated run, twice: the second `make` does nothing, and
    /// touching the calibrant redoes the geometry and everything after it.
    @Test func examplePipelineRunsAndRerunsOnlyWhatChanged() throws {
        let repository = Self.repository
        let dir = NSTemporaryDirectory() + "pipeline-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/pipelines/example", withIntermediateDirectories: true)
        for file in ["pipelines/dac.mk", "pipelines/example/Makefile", "pipelines/example/run.conf"] {
            try FileManager.default.copyItem(atPath: repository.appendingPathComponent(file).path, toPath: dir + "/" + file)
        }
        func make() throws -> Result { try Self.make(in: dir + "/pipelines/example") }
        func commands(_ r: Result) -> [String] {
            r.stdout.split(separator: "\n").compactMap { line in
                line.contains(Self.executable.path + " ") ? String(line.split(separator: " ")[1]) : nil
            }
        }
        let first = try make()
        #expect(first.status == 0, "\(first.stderr)")
        let report = dir + "/pipelines/example/out/report.html"
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("Q1 (Å⁻¹) against pressure") && html.contains("glass_390K_06"))
        // A thumbnail with its masks for each of the 15 images, every plot also standalone beside the report.
        #expect(html.components(separatedBy: "<img src=\"data:image/png;base64,").count - 1 == 15)
        let plots = try FileManager.default.contentsOfDirectory(atPath: dir + "/pipelines/example/out/plots").sorted()
        #expect(plots.count >= 11 && plots.contains("06-q1.svg") && plots.contains("01-calibration-residuals.svg"), "\(plots)")
        for plot in plots {
            let svg = try String(contentsOfFile: dir + "/pipelines/example/out/plots/" + plot, encoding: .utf8)
            #expect(svg.hasPrefix("<?xml") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\"") && html.contains(svg.dropFirst(39)),
                    "\(plot) is not the report's plot as a standalone SVG")
        }
        // results.nxs read with h5py: every array equals its text file, every checksum its file.
        let nexus = try Self.checkNeXusWithH5py(dir + "/pipelines/example/out")
        #expect(nexus.hasPrefix("OK") || nexus.hasPrefix("skipped"), "\(nexus)")
        if nexus.hasPrefix("skipped") { print(nexus) }
        #expect(!nexus.hasPrefix("OK") || nexus.contains("integrated 15 sq 14 fq 14 gr 14 stack 15 peaks 14"), "\(nexus)")
        // Error bars on the peak positions: one path of bars per isotherm.
        let q1Plot = try String(contentsOfFile: dir + "/pipelines/example/out/plots/06-q1.svg", encoding: .utf8)
        #expect(q1Plot.components(separatedBy: "stroke-width=\"0.9\" fill=\"none\"").count - 1 == 2)
        // Rendered in headless Chromium: the page's text after layout holds the plots and the table.
        if let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let (status, dom) = try Self.renderedDOM(chromium, page: report)
            #expect(status == 0)
            #expect(dom.contains("<h2>Calibration</h2>") && dom.contains("S(Q), offset 0.5") && dom.contains("G(r), offset 2"))
            #expect(dom.components(separatedBy: "<svg").count >= 9, "plots missing from the rendered page")
            #expect(dom.components(separatedBy: "<tr><td>glass_").count - 1 == 14, "rows of the points table")
            #expect(dom.contains("<h2>Transitions</h2>") && dom.contains("discontinuous"))
            // Laid out by the browser with its own fonts: no two texts of a picture overlap, none leaves it.
            let overlaps = try Self.textOverlapsInChromium(chromium, page: report)
            #expect(overlaps.count == 1 && overlaps[0].isEmpty, "overlapping or clipped texts:\n\(overlaps.joined(separator: "\n"))")
            // The check itself sees an overlap and a text beyond its picture.
            let control = dir + "/control.html"
            try "<html><body><svg width=\"100\" height=\"40\"><text x=\"5\" y=\"20\">293 K</text><text x=\"20\" y=\"24\">390 K</text>"
                .appending("<text x=\"90\" y=\"30\">cut off</text></svg></body></html>").write(toFile: control, atomically: true, encoding: .utf8)
            let seen = try Self.textOverlapsInChromium(chromium, page: control).joined()
            #expect(seen.contains("293 K | 390 K") && seen.contains("outside cut off"), "\(seen)")
        } else {
            print("skipped: no chromium to render the report (make deps installs it)")
        }
        // The simulated run's transitions: a step at 390 K, a smooth stiffening at 293 K.
        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/pipelines/example/data/truth.json"))) as! [String: Any]
        let series = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/pipelines/example/out/series.json"))) as! [String: Any]
        let isotherms = series["isotherms"] as! [[String: Any]]
        func transitions(_ t: Double) -> [[String: Any]] {
            (isotherms.first { $0["temperature_K"] as? Double == t }?["transitions"] as? [[String: Any]] ?? []).filter { $0["quantity"] as? String == "Q1" }
        }
        let steps390 = transitions(390).filter { $0["kind"] as? String == "discontinuous" }
        #expect(steps390.count == 1 && abs((steps390.first?["pressure_GPa"] as? Double ?? 0) - (truth["step_pressure_GPa"] as! Double)) <= 0.3, "\(transitions(390))")
        #expect(!transitions(293).contains { $0["kind"] as? String == "discontinuous" }, "\(transitions(293))")
        // Within two standard uncertainties: Q1 is the maximum of S(Q) now, whose σ on these small
        // 640×640 images is the honest 5·10⁻⁴ Å⁻¹ (the pseudo-Voigt's 1·10⁻⁴ understated the scatter).
        #expect(transitions(293).contains { abs(($0["pressure_GPa"] as! Double) - (truth["smooth_pressure_GPa"] as! Double))
                    <= 2 * ($0["sigma_GPa"] as! Double) }, "\(transitions(293))")
        let second = try make()
        #expect(second.status == 0)
        #expect(commands(second).isEmpty, "second make ran: \(commands(second))")
        // Touch the calibrant: geometry and everything after it, but no pressures.
        let calibrant = dir + "/pipelines/example/data/images/CeO2.mar640"
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: calibrant)
        let third = try make()
        let ran = commands(third)
        #expect(third.status == 0)
        #expect(ran.filter { $0 == "calibrate" }.count == 1)
        #expect(ran.filter { $0 == "prepare" }.count == 1, "the engine is built once per run: \(ran)")
        #expect(ran.filter { $0 == "integrate" }.count == 15)
        #expect(ran.filter { $0 == "sq" }.count == 14)
        #expect(ran.contains("report") && !ran.contains("pressure"))
        // A new image file for one sample: that image only, with the run's engine as it is.
        let image = dir + "/pipelines/example/data/images/glass_293K_02.mar640"
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: image)
        let one = commands(try make())
        #expect(one.filter { $0 == "integrate" }.count == 1 && !one.contains("prepare") && !one.contains("calibrate"), "\(one)")
        #expect(FileManager.default.fileExists(atPath: dir + "/pipelines/example/out/masks/glass_293K_02.tif"))
        // A changed composition in the run's configuration redoes S(Q) and what follows only.
        let config = dir + "/pipelines/example/run.conf"
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "composition = Ce65Co25Al10", with: "composition = Ce60Co30Al10")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let fourth = try make()
        let again = commands(fourth)
        #expect(fourth.status == 0)
        #expect(!again.contains("integrate") && !again.contains("mask") && !again.contains("pressure") && again.filter { $0 == "sq" }.count == 14, "\(again)")
        // A failed stage leaves nothing make would take as done: a broken S(Q) option fails the run.
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "options = --qmax 13.5", with: "options = --qmax 99")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let broken = try make()
        #expect(broken.status != 0)
        let retried = try make()
        #expect(retried.status != 0 && commands(retried).contains("sq"), "a failed S(Q) stage was taken as done")
    }

    /// The example run with one sample image truncated: the run finishes, the report names the
    /// sample in red, peaks.tsv leaves it out, make exits non-zero; with the image restored,
    /// `make` redoes that sample alone (and what gathers the samples).
    /// The example run reduced through a single-node Slurm cluster started here (its own munge,
    /// slurmctld and slurmd; pipelines/slurm/local-cluster.sh) with SLURM=1: every command a job
    /// step, every output equal to a local run's. Cancelled (shown as skipped) with the reason where
    /// the daemons cannot start.
    @Test func pipelineThroughALocalSlurmCluster() throws {
        let repository = Self.repository
        let base = NSTemporaryDirectory() + "slurm-\(getpid())"
        try? FileManager.default.removeItem(atPath: base)
        for run in ["local", "slurm"] {
            try FileManager.default.createDirectory(atPath: "\(base)/\(run)/pipelines/example", withIntermediateDirectories: true)
            for file in ["pipelines/dac.mk", "pipelines/example/Makefile", "pipelines/example/run.conf"] {
                try FileManager.default.copyItem(atPath: repository.appendingPathComponent(file).path, toPath: "\(base)/\(run)/\(file)")
            }
        }
        let script = repository.appendingPathComponent("pipelines/slurm/local-cluster.sh").path
        try FileManager.default.createDirectory(atPath: base + "/cluster", withIntermediateDirectories: true)
        let start = Process()
        start.executableURL = URL(fileURLWithPath: "/bin/bash")
        start.arguments = [script, "start", base + "/cluster"]
        // Messages into a file, not a pipe: the daemons inherit the child's open descriptors, and a
        // pipe held open by them would never reach its end.
        let messages = base + "/cluster-start.txt"
        _ = FileManager.default.createFile(atPath: messages, contents: nil)
        let messageFile = try FileHandle(forWritingTo: URL(fileURLWithPath: messages))
        start.standardOutput = FileHandle.nullDevice
        start.standardError = messageFile
        try start.run()
        start.waitUntilExit()
        try messageFile.close()
        let why = (try? String(contentsOfFile: messages, encoding: .utf8)) ?? ""
        defer {
            let stop = Process()
            stop.executableURL = URL(fileURLWithPath: "/bin/bash")
            stop.arguments = [script, "stop", base + "/cluster"]
            try? stop.run()
            stop.waitUntilExit()
        }
        if start.terminationStatus != 0 {
            try Test.cancel("no local Slurm cluster: \(why.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // The same data for both runs: simulated once, by the local run.
        let local = try Self.make(in: base + "/local/pipelines/example")
        #expect(local.status == 0, "\(local.stderr)")
        try FileManager.default.copyItem(atPath: base + "/local/pipelines/example/data", toPath: base + "/slurm/pipelines/example/data")
        let slurm = try Self.make(in: base + "/slurm/pipelines/example", ["SLURM=1"],
                                  environment: ["SLURM_CONF": base + "/cluster/slurm.conf"])
        #expect(slurm.status == 0, "\(slurm.stderr)")
        let steps = slurm.stdout.split(separator: "\n").filter { $0.hasPrefix("srun ") && $0.contains(Self.executable.path) }
        #expect(steps.count >= 45, "every command through srun: \(steps.count) steps")
        // slurmctld saw the job steps.
        let log = (try? String(contentsOfFile: base + "/cluster/log/slurmctld.log", encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "_job_complete").count - 1 >= steps.count, "jobs completed in slurmctld.log")
        // Every output equal to the local run's, but for comment lines and the input paths.
        func body(_ path: String) throws -> [Substring] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                .filter { !$0.hasPrefix("#") && !$0.hasPrefix("source=") }
        }
        let out = { (run: String) in "\(base)/\(run)/pipelines/example/out" }
        var compared = 0
        for folder in ["integrated", "sq", "pressure", "delta_s"] {
            for file in try FileManager.default.contentsOfDirectory(atPath: out("local") + "/" + folder) {
                let same = try body("\(out("local"))/\(folder)/\(file)") == body("\(out("slurm"))/\(folder)/\(file)")
                #expect(same, "\(folder)/\(file) differs between the local and the Slurm run")
                compared += 1
            }
        }
        for file in ["peaks.tsv", "series.json"] {
            #expect(try body("\(out("local"))/\(file)") == body("\(out("slurm"))/\(file)"), "\(file) differs")
        }
        #expect(compared >= 60 && FileManager.default.fileExists(atPath: out("slurm") + "/report.html"))
    }

    @Test func oneBadImageDoesNotStopTheRun() throws {
        let dir = NSTemporaryDirectory() + "bad-image-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/pipelines/example", withIntermediateDirectories: true)
        for file in ["pipelines/dac.mk", "pipelines/example/Makefile", "pipelines/example/run.conf"] {
            try FileManager.default.copyItem(atPath: Self.repository.appendingPathComponent(file).path, toPath: dir + "/" + file)
        }
        let run = dir + "/pipelines/example"
        let first = try Self.make(in: run)
        #expect(first.status == 0, "\(first.stderr)")
        let image = run + "/data/images/glass_293K_03.mar640"
        let good = try Data(contentsOf: URL(fileURLWithPath: image))
        try good.prefix(5000).write(to: URL(fileURLWithPath: image))
        let broken = try Self.make(in: run)
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("failed samples") && broken.stderr.contains("glass_293K_03"), "\(broken.stderr)")
        let failure = try String(contentsOfFile: run + "/out/failed/glass_293K_03.txt", encoding: .utf8)
        #expect(failure.contains("glass_293K_03.mar640") && failure.contains("truncated"), "\(failure)")
        let html = try String(contentsOfFile: run + "/out/report.html", encoding: .utf8)
        #expect(html.contains("Failed samples (1)") && html.contains("<b>glass_293K_03</b>"))
        let peaks = try String(contentsOfFile: run + "/out/peaks.tsv", encoding: .utf8)
        #expect(!peaks.contains("glass_293K_03") && peaks.contains("glass_293K_04"))
        try good.write(to: URL(fileURLWithPath: image))
        let fixed = try Self.make(in: run)
        #expect(fixed.status == 0, "\(fixed.stderr)")
        let ran = fixed.stdout.split(separator: "\n").filter { $0.contains(Self.executable.path + " ") }
        #expect(ran.filter { $0.contains(" integrate ") }.count == 1 && ran.filter { $0.contains(" sq ") }.count == 1, "\(ran)")
        #expect(!FileManager.default.fileExists(atPath: run + "/out/failed/glass_293K_03.txt"))
        #expect(try String(contentsOfFile: run + "/out/peaks.tsv", encoding: .utf8).contains("glass_293K_03"))
    }

    /// Two setups in one run (the example's images under two names, the second inheriting the
    /// first and changing its bins): a geometry and an engine per setup, each sample integrated
    /// with its own, the series over both, and the report showing both calibrations.
    @Test func twoSetupsInOneRun() throws {
        let dir = NSTemporaryDirectory() + "setups-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/pipelines/example", withIntermediateDirectories: true)
        for file in ["pipelines/dac.mk", "pipelines/example/Makefile"] {
            try FileManager.default.copyItem(atPath: Self.repository.appendingPathComponent(file).path, toPath: dir + "/" + file)
        }
        var samples293: [String] = [], samples390: [String] = []
        for k in 0 ..< 7 {
            samples293.append(String(format: "glass_293K_%02d  data/images/glass_293K_%02d.mar640  -  293  ruby:data/ruby/glass_293K_%02d.txt", k, k, k))
            samples390.append(String(format: "glass_390K_%02d  data/images/glass_390K_%02d.mar640  -  390  ruby:data/ruby/glass_390K_%02d.txt", k, k, k))
        }
        let config = """
            [run]
            composition = Ce65Co25Al10
            bg_scale = 0.93
            [integration]
            bins = 1500
            [sq]
            options = --qmax 13.5 --lorch --rmax 15
            [setup cold]
            calibrant_image = data/images/CeO2.mar640
            calibrant = CeO2
            empty_cell = data/images/empty_cell.mar640
            [setup hot]
            inherit = cold
            bins = 1400
            [samples cold]
            \(samples293.joined(separator: "\n"))
            [samples hot]
            \(samples390.joined(separator: "\n"))

            """
        try config.write(toFile: dir + "/pipelines/example/run.conf", atomically: true, encoding: .utf8)
        let run = dir + "/pipelines/example"
        let result = try Self.make(in: run)
        #expect(result.status == 0, "\(result.stderr)")
        let plan = try String(contentsOfFile: run + "/out/run.mk", encoding: .utf8)
        #expect(plan.contains("SETUPS = cold hot") && plan.contains("BINS.hot = 1400") && plan.contains("BINS.cold = 1500"))
        #expect(plan.contains("setup.glass_390K_03 = hot") && plan.contains("EMPTY_CELL.hot = empty_cell_hot"))
        for setup in ["cold", "hot"] {
            #expect(FileManager.default.fileExists(atPath: run + "/out/setups/\(setup)/geometry.poni"))
            #expect(FileManager.default.fileExists(atPath: run + "/out/setups/\(setup)/integration.engine"))
        }
        let ran = result.stdout.split(separator: "\n").filter { $0.contains(Self.executable.path + " ") }
        #expect(ran.filter { $0.contains(" calibrate ") }.count == 2 && ran.filter { $0.contains(" prepare ") }.count == 2)
        #expect(ran.filter { $0.contains(" integrate ") && $0.contains("glass_390K_03") }.allSatisfy { $0.contains("--bins 1400") })
        let hot = try String(contentsOfFile: run + "/out/integrated/glass_390K_03.xy", encoding: .utf8)
        #expect(hot.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == 1400)
        let html = try String(contentsOfFile: run + "/out/report.html", encoding: .utf8)
        #expect(html.contains("Calibration of setup cold") && html.contains("Calibration of setup hot"))
        let series = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/out/series.json"))) as! [String: Any]
        #expect((series["isotherms"] as! [[String: Any]]).count == 2)
        // Setups must be named for their samples, and inherit what exists.
        for (edit, message) in [
            (config.replacingOccurrences(of: "[samples hot]", with: "[samples]"), "is in [samples], but the file has setups"),
            (config.replacingOccurrences(of: "inherit = cold", with: "inherit = warm"), "inherits warm, which is not a [setup]"),
            (config.replacingOccurrences(of: "[setup cold]", with: "[setup cold]\ninherit = hot"), "setups inherit in a circle"),
        ] {
            try edit.write(toFile: dir + "/bad.conf", atomically: true, encoding: .utf8)
            let refused = try Self.run(["plan", dir + "/bad.conf", "--output-dir", dir + "/bad", "--no-check"])
            #expect(refused.status != 0 && refused.stderr.contains(message), "\(refused.stderr)")
        }
    }

    /// A two-mode run as a beamtime leaves it: the 293 K isotherm on one detector mode, the
    /// 390 K one on another (each with its CeO2 and empty cell), ruby spectra named NAME_ruby.txt,
    /// a test pattern and a dark. `init` drafts both setups without a log (by detector shape) and
    /// with the experimenter's CSV log (by its mode column), never drafts the test pattern or the
    /// dark as a sample, and the draft reduces the whole run with its pressures from the rubies.
    @Test func initDraftsATwoModeRun() throws {
        let dir = NSTemporaryDirectory() + "init-modes-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fm = FileManager.default
        var log = ["kind,file,ruby,temperature_K,mode,exposure_s"]
        var truthPressures: [String: Double] = [:]
        for (size, keep, mode, seed) in [(480, "293K", "mar480", "5"), (560, "390K", "mar560", "6")] {
            let simulated = try Self.run(["simulate", "-o", "\(dir)/sim\(size)", "--size", "\(size)", "--pressures", "1,3,6",
                                          "--seed", seed])
            #expect(simulated.status == 0, "\(simulated.stderr)")
            let target = "\(dir)/data/\(mode)"
            try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
            let images = try fm.contentsOfDirectory(atPath: "\(dir)/sim\(size)/images").sorted()
            for image in images where image.hasPrefix("CeO2") || image.hasPrefix("empty") || image.contains(keep) {
                try fm.copyItem(atPath: "\(dir)/sim\(size)/images/\(image)", toPath: "\(target)/\(image)")
                let stem = (image as NSString).deletingPathExtension
                let kind = image.hasPrefix("CeO2") ? "calibrant CeO2" : image.hasPrefix("empty") ? "empty cell" : "sample"
                var ruby = ""
                if kind == "sample" {
                    try fm.copyItem(atPath: "\(dir)/sim\(size)/ruby/\(stem).txt", toPath: "\(target)/\(stem)_ruby.txt")
                    ruby = "\(stem)_ruby.txt"
                }
                log.append("\(kind),\(image),\(ruby),\(kind == "sample" ? String(keep.dropLast()) : ""),\(mode),10")
            }
            let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/sim\(size)/truth.json"))) as! [String: Any]
            for point in truth["points"] as! [[String: Any]] where (point["name"] as! String).contains(keep) {
                truthPressures[point["name"] as! String] = point["pressure"] as? Double
            }
        }
        // A test pattern on the first detector and a dark on the second: neither is a sample.
        try fm.copyItem(atPath: "\(dir)/data/mar480/CeO2.mar480", toPath: "\(dir)/data/mar480/test_pattern.mar480")
        try fm.copyItem(atPath: "\(dir)/data/mar560/empty_cell.mar560", toPath: "\(dir)/data/mar560/dark_0001.mar560")
        let drafted = try Self.run(["init", dir + "/data", "-o", dir + "/run.conf", "--composition", "Ce65Co25Al10"])
        #expect(drafted.status == 0, "\(drafted.stderr)")
        let text = try String(contentsOfFile: dir + "/run.conf", encoding: .utf8)
        #expect(text.contains("[setup 480x480]") && text.contains("[setup 560x560]"), "\(text)")
        #expect(text.contains("# skipped: data/mar480/test_pattern.mar480 (a test image, by its name)"), "\(text)")
        #expect(text.contains("# skipped: data/mar560/dark_0001.mar560 (a dark frame, by its name)"), "\(text)")
        #expect(text.contains("ruby:data/mar560/glass_390K_02_ruby.txt") && !text.contains("standard"), "\(text)")
        // With the log: setups by mode, the test pattern skipped for the log's silence on it.
        try (log.joined(separator: "\n") + "\n").write(toFile: dir + "/data/run_log.csv", atomically: true, encoding: .utf8)
        try fm.removeItem(atPath: dir + "/run.conf")
        let withLog = try Self.run(["init", dir + "/data", "-o", dir + "/run.conf", "--composition", "Ce65Co25Al10"])
        #expect(withLog.status == 0, "\(withLog.stderr)")
        let logged = try String(contentsOfFile: dir + "/run.conf", encoding: .utf8)
        #expect(logged.contains("[setup mar480]") && logged.contains("[setup mar560]") && logged.contains("[samples mar560]"), "\(logged)")
        #expect(!logged.contains("test_pattern.mar480  -") && !logged.contains("dark_0001.mar560  -"), "\(logged)")
        // The draft with one line edited reduces the run: both setups calibrated, every sample's
        // pressure. (This simulator's S(Q) has no pair distribution to refine the scale from.)
        try logged.replacingOccurrences(of: "bg_scale = refine", with: "bg_scale = 0.93 #")
            .write(toFile: dir + "/run.conf", atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        try "CONFIG = \(dir)/run.conf\nOUT = \(dir)/out\nBEAMLINE = \(Self.executable.path)\ninclude \(Self.repository.path)/pipelines/dac.mk\n"
            .write(toFile: dir + "/run/Makefile", atomically: true, encoding: .utf8)
        let made = try Self.make(in: dir + "/run")
        #expect(made.status == 0, "\(made.stderr)")
        for setup in ["mar480", "mar560"] { #expect(fm.fileExists(atPath: "\(dir)/out/setups/\(setup)/geometry.poni")) }
        let rows = try Self.peakTable(dir + "/out/peaks.tsv")
        #expect(rows.count == truthPressures.count)
        for row in rows {
            let truth = try #require(truthPressures[row["name"]!])
            #expect(abs(Double(row["pressure_GPa"]!)! - truth) < 0.01, "\(row["name"]!): \(row["pressure_GPa"]!) against \(truth)")
        }
    }
}
