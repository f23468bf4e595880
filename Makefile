# beamline — data reduction for diamond-anvil-cell X-ray diffraction.
#
#   make deps    install the C libraries (libtiff, libhdf5) with apt-get if pkg-config cannot find them,
#                Debian's chromium (the tests render the HTML report headless), python3-h5py (the tests
#                read results.nxs with h5py), slurm-wlm and munge (a test reduces the example run through
#                a single-node Slurm cluster it starts: pipelines/slurm/local-cluster.sh)
#   make demo    build and run the main job on the bundled default data
#   make test    build and run the test suite
#   make bench   benchmarks against fabio/pyFAI (release build; installs them into bench/.venv)

SWIFT ?= swift
RELEASE_BIN = .build/release
# The release build links the Swift runtime and Foundation statically: a run of 34 plates starts 105
# short `beamline` processes, and each spent 22 ms of CPU starting, half of it in the dynamic linker
# resolving the Swift libraries' symbols (11 ms static; the binary grows from 17 to 85 MB).
RELEASE_FLAGS = -c release --static-swift-stdlib

.PHONY: all deps build release test demo bench fuzz clean

all: build

# Installs only what is missing; needs root (or sudo) only when something is missing.
deps:
	@missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	if command -v pkg-config >/dev/null 2>&1; then \
	  pkg-config --exists libtiff-4 || missing="$$missing libtiff-dev"; \
	  pkg-config --exists hdf5 || missing="$$missing libhdf5-dev"; \
	else \
	  missing="$$missing libtiff-dev libhdf5-dev"; \
	fi; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1 || missing="$$missing python3-h5py"; \
	[ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && command -v srun >/dev/null 2>&1 || missing="$$missing slurm-wlm"; \
	[ -x /usr/sbin/munged ] || missing="$$missing munge"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    echo "deps: installing$$missing (sudo)"; \
	    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "deps: missing$$missing. Install them as root:"; \
	    echo "    sudo apt-get install$$missing"; \
	    echo "(HDF5 headers are looked up with pkg-config: Debian keeps them in /usr/include/hdf5/serial.)"; \
	    exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

# Optimised tests: the suite integrates full-size detector images (against ../shared when
# present), which takes seconds optimised and minutes unoptimised.
test: deps
	$(SWIFT) test -c release -Xswiftc -enable-testing

# The main job on an embedded default: simulate a DAC run (two isotherms, ruby spectra),
# then calibrate, mask, integrate, measure pressures, reduce to S(Q) and G(r), fit the peaks,
# analyse the series and write the report, all through pipelines/example.
demo: release
	$(MAKE) -C pipelines/example -j2 BEAMLINE=$(abspath $(RELEASE_BIN))/beamline
	@echo "report: $(abspath pipelines/example/out/report.html)"

bench: release
	bash bench/mar345_decode.sh
	bash bench/integrate.sh
	bash bench/run.sh

# libFuzzer on every parser (fuzz/run.sh; not part of CI): FUZZ_RUNS executions per target.
fuzz: deps
	bash fuzz/run.sh

clean:
	rm -rf .build bench/out pipelines/example/data pipelines/example/out fuzz/.build fuzz/corpus
