# Reusable rules for a diamond-anvil-cell run. Include this file from a run's Makefile
# after its configuration (see pipelines/example/run.mk), then `make` (or `make -j2`).
#
# Stages, each writing files the next reads:
#   calibrant image -> geometry.poni (+ .svg) -> masks/NAME.tif -> integrated/NAME.xy
#   ruby/NAME.txt -> pressure/NAME.pressure
#   integrated + empty cell -> sq/NAME.{iq,sq,fq,gr} -> peaks.tsv -> series.json -> report.html
#
# Changing a setting re-runs only what depends on it: every group of settings is kept in a
# params/*.txt file that is rewritten only when its content changes. Commands write to a
# temporary name and rename, and .DELETE_ON_ERROR removes what a failed recipe made.

BEAMLINE ?= beamline
OUT ?= out
IMAGE_EXT ?= mar2300
CALIBRANT ?= CeO2
BINS ?= 2000
POLARIZATION ?= 0.99
SPOT_K ?= 6
BEAMSTOP_MASK ?=
BG_SCALE ?= 1
RUBY_SCALE ?= shen2020
SQ_OPTIONS ?=

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all FORCE

SQ_FILES = $(SAMPLES:%=$(OUT)/sq/%.sq)
PRESSURE_FILES = $(SAMPLES:%=$(OUT)/pressure/%.pressure)

all: $(OUT)/report.html

# Keeps $(2) in $(1), rewriting the file only when the text changes.
define remember
	@mkdir -p $(dir $(1)); printf '%s\n' '$(2)' | cmp -s - $(1) || printf '%s\n' '$(2)' > $(1)
endef

$(OUT)/params/calibration.txt: FORCE ; $(call remember,$@,$(CALIBRANT) $(CALIBRATION_OPTIONS))
$(OUT)/params/mask.txt: FORCE ; $(call remember,$@,$(SPOT_K) $(BEAMSTOP_MASK) $(MASK_OPTIONS))
$(OUT)/params/integration.txt: FORCE ; $(call remember,$@,$(BINS) $(POLARIZATION) $(INTEGRATION_OPTIONS))
$(OUT)/params/ruby.txt: FORCE ; $(call remember,$@,$(RUBY_SCALE))
$(OUT)/params/sq.txt: FORCE ; $(call remember,$@,$(COMPOSITION) $(BG_SCALE) $(SQ_OPTIONS))

$(OUT)/geometry.poni: $(CALIBRANT_IMAGE) $(OUT)/params/calibration.txt
	$(BEAMLINE) calibrate $< --calibrant $(CALIBRANT) $(CALIBRATION_OPTIONS) -o $@

$(OUT)/masks/%.tif: $(DATA)/images/%.$(IMAGE_EXT) $(OUT)/geometry.poni $(OUT)/params/mask.txt $(BEAMSTOP_MASK)
	@mkdir -p $(@D)
	$(BEAMLINE) mask $< --poni $(OUT)/geometry.poni --spots $(SPOT_K) $(if $(BEAMSTOP_MASK),--mask $(BEAMSTOP_MASK)) $(MASK_OPTIONS) -o $@ > /dev/null

$(OUT)/integrated/%.xy: $(DATA)/images/%.$(IMAGE_EXT) $(OUT)/geometry.poni $(OUT)/masks/%.tif $(OUT)/params/integration.txt
	$(BEAMLINE) integrate $< --poni $(OUT)/geometry.poni --mask $(OUT)/masks/$*.tif --bins $(BINS) \
	    --polarization $(POLARIZATION) --sigma-clip 3 $(INTEGRATION_OPTIONS) -o $(OUT)/integrated

$(OUT)/pressure/%.pressure: $(DATA)/ruby/%.txt $(OUT)/params/ruby.txt
	@mkdir -p $(@D)
	$(BEAMLINE) pressure ruby $< --scale $(RUBY_SCALE) --output-dir $(@D) > /dev/null

$(OUT)/sq/%.sq: $(OUT)/integrated/%.xy $(OUT)/integrated/$(EMPTY_CELL).xy $(OUT)/params/sq.txt
	$(BEAMLINE) sq $< --background $(OUT)/integrated/$(EMPTY_CELL).xy --bg-scale $(BG_SCALE) \
	    --composition $(COMPOSITION) $(SQ_OPTIONS) -o $(OUT)/sq

$(OUT)/peaks.tsv: $(SQ_FILES) $(PRESSURE_FILES)
	$(BEAMLINE) peaks $(SQ_FILES) --pressures $(OUT)/pressure --delta-s $(OUT)/delta_s -o $@ > /dev/null

$(OUT)/series.json: $(OUT)/peaks.tsv
	$(BEAMLINE) series $< -o $@ > /dev/null

$(OUT)/report.html: $(OUT)/series.json $(OUT)/peaks.tsv $(OUT)/geometry.poni
	$(BEAMLINE) report $(OUT) -o $@
