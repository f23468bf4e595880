# Configuration of the example run: the simulated run that `beamline simulate` writes into
# DATA (a metallic glass on two isotherms with ruby spectra). A real run states the same
# things: where the data are, the calibrant, the empty cell and its scale, the composition.
DATA ?= data
OUT ?= out
IMAGE_EXT = mar640
CALIBRANT_IMAGE = $(DATA)/images/CeO2.$(IMAGE_EXT)
CALIBRANT = CeO2
EMPTY_CELL = empty_cell
SAMPLES = $(sort $(basename $(notdir $(wildcard $(DATA)/images/glass_*.$(IMAGE_EXT)))))
COMPOSITION = Ce65Co25Al10
BG_SCALE = 0.93
BINS = 1500
POLARIZATION = 0.99
RUBY_SCALE = shen2020
# The detector's inscribed circle ends near 13.9 1/A: beyond, rings are partial and noisy.
SQ_OPTIONS = --qmax 13.5 --lorch --rmax 15
