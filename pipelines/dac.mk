# Reusable rules for a diamond-anvil-cell run. A run's Makefile sets CONFIG (its run
# configuration, see pipelines/example/run.conf) and OUT, includes this file, and `make`
# (or `make -j2`) does the rest.
#
# Stages, each writing files the next reads:
#   run.conf -> OUT/run.mk + OUT/conditions.tsv                      (beamline plan)
#   calibrant image -> geometry.poni (+ .svg) -> integration.engine (built once per setup)
#   image + engine -> integrated/NAME.xy (+ masks/NAME.tif, that frame's mask, for inspection)
#   ruby spectrum, or the standard's rings in integrated/NAME.xy -> pressure/NAME.pressure
#   integrated + empty cell -> sq/NAME.{iq,sq,fq,gr} -> peaks.tsv -> series.json -> report.html
#
# Changing a setting re-runs only what depends on it: every group of settings is kept in a
# params/*.txt file that is rewritten only when its content changes. Commands write to a
# temporary name and rename, and .DELETE_ON_ERROR removes what a failed recipe made.

BEAMLINE ?= beamline
CONFIG ?= run.conf
OUT ?= out

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all FORCE

all: $(OUT)/report.html

# One make at a time writes OUT: a lock (OUT/.lock, a symbolic link to the owning make's process
# id, made atomically) is taken when this file is read; a second make refuses while the owner
# runs. A lock whose process is gone (a killed run) is taken over; make's own restarts (after
# OUT/run.mk is remade) keep its process id and so its lock.
RUN_LOCK := $(shell mkdir -p $(OUT) && lock=$(OUT)/.lock; \
	for try in 1 2 3; do \
	  if ln -s $$PPID $$lock 2>/dev/null; then echo ok; exit 0; fi; \
	  owner=$$(readlink $$lock); \
	  if [ "$$owner" = "$$PPID" ]; then echo ok; exit 0; fi; \
	  if [ -n "$$owner" ] && kill -0 "$$owner" 2>/dev/null; then echo "$$owner"; exit 0; fi; \
	  rm -f $$lock; \
	done; echo ok)
ifneq ($(RUN_LOCK),ok)
$(error $(OUT) is being written by another make (process $(RUN_LOCK); lock $(OUT)/.lock): wait for it to finish)
endif

# The configuration, as make variables (made again, and make restarted, when it changes).
include $(OUT)/run.mk
$(OUT)/run.mk: $(CONFIG)
	$(BEAMLINE) plan $(CONFIG) --output-dir $(OUT) > /dev/null
$(OUT)/conditions.tsv:
	$(BEAMLINE) plan $(CONFIG) --output-dir $(OUT) > /dev/null

# The empty cell first: every S(Q) waits for its pattern, so it is integrated before the samples.
IMAGES = $(EMPTY_CELL) $(SAMPLES)
MEASURED = $(foreach s,$(SAMPLES),$(if $(filter ruby standard,$(pressure.$(s))),$(s)))
SQ_FILES = $(SAMPLES:%=$(OUT)/sq/%.sq)
PRESSURE_FILES = $(MEASURED:%=$(OUT)/pressure/%.pressure)

# Keeps $(2) in $(1), rewriting the file only when the text changes.
define remember
	@mkdir -p $(dir $(1)); printf '%s\n' '$(2)' | cmp -s - $(1) || printf '%s\n' '$(2)' > $(1)
endef

$(OUT)/params/calibration.txt: FORCE ; $(call remember,$@,$(CALIBRANT_IMAGE) $(CALIBRANT) $(CALIBRATION_OPTIONS))
$(OUT)/params/mask.txt: FORCE ; $(call remember,$@,$(SPOT_K) $(BEAMSTOP_MASK) $(MASK_OPTIONS))
$(OUT)/params/integration.txt: FORCE ; $(call remember,$@,$(BINS) $(POLARIZATION) $(INTEGRATION_OPTIONS))
$(OUT)/params/ruby.txt: FORCE ; $(call remember,$@,$(RUBY_SCALE) $(PRESSURE_OPTIONS))
$(OUT)/params/standard.txt: FORCE ; $(call remember,$@,$(STANDARD) $(STANDARD_SCALE) $(PRESSURE_OPTIONS))
$(OUT)/params/sq.txt: FORCE ; $(call remember,$@,$(COMPOSITION) $(BG_SCALE) $(SQ_OPTIONS))
$(OUT)/params/series.txt: FORCE ; $(call remember,$@,$(SERIES_OPTIONS))

$(OUT)/geometry.poni: $(CALIBRANT_IMAGE) $(OUT)/params/calibration.txt
	$(BEAMLINE) calibrate $< --calibrant $(CALIBRANT) $(CALIBRATION_OPTIONS) -o $@

# The masks every image shares: the beam-stop mask as it is, or, with [mask] options (shapes,
# rows, columns, values), one mask made from it and them on the first image.
STATIC_MASK = $(if $(strip $(MASK_OPTIONS)),$(OUT)/masks/static.tif,$(BEAMSTOP_MASK))
$(OUT)/masks/static.tif: $(image.$(firstword $(IMAGES))) $(OUT)/params/mask.txt $(BEAMSTOP_MASK)
	@mkdir -p $(@D)
	$(BEAMLINE) mask $< --no-validity-mask $(if $(BEAMSTOP_MASK),--mask $(BEAMSTOP_MASK)) $(MASK_OPTIONS) -o $@ > /dev/null

# One integration engine for the run, built once and read by every integrate process (a few
# hundred MB for a 3450x3450 plate): `prepare` and `integrate` take the same options, and
# integrate checks the engine's key against them.
ENGINE = $(OUT)/integration.engine
ENGINE_OPTIONS = --poni $(OUT)/geometry.poni $(if $(STATIC_MASK),--mask $(STATIC_MASK)) $(if $(SPOT_K),--spots $(SPOT_K)) \
    --bins $(BINS) --polarization $(POLARIZATION) $(INTEGRATION_OPTIONS)
$(ENGINE): $(OUT)/geometry.poni $(OUT)/params/mask.txt $(OUT)/params/integration.txt $(STATIC_MASK) | $(image.$(firstword $(IMAGES)))
	$(BEAMLINE) prepare $(image.$(firstword $(IMAGES))) $(ENGINE_OPTIONS) -o $@ > /dev/null

# Per image (the samples and the empty cell): which file and frame, remembered; its pattern,
# and that frame's full mask (shared masks, invalid pixels, diamond spots) beside it.
define image_rules
$(OUT)/params/image.$(1).txt: FORCE ; $$(call remember,$$@,$(image.$(1)) $(frame.$(1)))
$(OUT)/integrated/$(1).xy: $(image.$(1)) $(OUT)/params/image.$(1).txt $(ENGINE)
	@mkdir -p $(OUT)/masks
	$$(BEAMLINE) integrate $$< --frame $(frame.$(1)) --name $(1) --engine $(ENGINE) $$(ENGINE_OPTIONS) \
	    --mask-output $(OUT)/masks/$(1).tif -o $(OUT)/integrated
endef

# Per sample: its pressure from a ruby spectrum or from the standard's reflections in its pattern.
define ruby_rule
$(OUT)/params/pressure.$(1).txt: FORCE ; $$(call remember,$$@,$(ruby.$(1)) $(temperature.$(1)))
$(OUT)/pressure/$(1).pressure: $(ruby.$(1)) $(OUT)/params/pressure.$(1).txt $(OUT)/params/ruby.txt
	@mkdir -p $$(@D)
	$$(BEAMLINE) pressure ruby $$< --temperature $(temperature.$(1)) --scale $$(RUBY_SCALE) $$(PRESSURE_OPTIONS) -o $$@ > /dev/null
endef
define standard_rule
$(OUT)/params/pressure.$(1).txt: FORCE ; $$(call remember,$$@,standard $(temperature.$(1)))
$(OUT)/pressure/$(1).pressure: $(OUT)/integrated/$(1).xy $(OUT)/params/pressure.$(1).txt $(OUT)/params/standard.txt
	@mkdir -p $$(@D)
	$$(BEAMLINE) pressure eos $$< --temperature $(temperature.$(1)) --standard $$(STANDARD) --scale $$(STANDARD_SCALE) $$(PRESSURE_OPTIONS) -o $$@ > /dev/null
endef

$(foreach i,$(IMAGES),$(eval $(call image_rules,$(i))))
$(foreach s,$(SAMPLES),$(if $(filter ruby,$(pressure.$(s))),$(eval $(call ruby_rule,$(s)))))
$(foreach s,$(SAMPLES),$(if $(filter standard,$(pressure.$(s))),$(eval $(call standard_rule,$(s)))))

BACKGROUND = $(if $(EMPTY_CELL),$(OUT)/integrated/$(EMPTY_CELL).xy)
$(OUT)/sq/%.sq: $(OUT)/integrated/%.xy $(BACKGROUND) $(OUT)/params/sq.txt
	$(BEAMLINE) sq $< $(if $(BACKGROUND),--background $(BACKGROUND) --bg-scale $(BG_SCALE)) \
	    --composition $(COMPOSITION) $(SQ_OPTIONS) -o $(OUT)/sq

$(OUT)/peaks.tsv: $(SQ_FILES) $(PRESSURE_FILES) $(OUT)/conditions.tsv
	$(BEAMLINE) peaks $(SQ_FILES) --pressures $(OUT)/pressure --conditions $(OUT)/conditions.tsv --delta-s $(OUT)/delta_s -o $@ > /dev/null

$(OUT)/series.json: $(OUT)/peaks.tsv $(OUT)/params/series.txt
	$(BEAMLINE) series $< $(SERIES_OPTIONS) -o $@ > /dev/null

$(OUT)/report.html: $(OUT)/series.json $(OUT)/peaks.tsv $(OUT)/geometry.poni
	$(BEAMLINE) report $(OUT) -o $@
