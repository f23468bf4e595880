# Reusable rules for a diamond-anvil-cell run. A run's Makefile sets CONFIG (its run
# configuration, see pipelines/example/run.conf) and OUT, includes this file, and `make`
# (or `make -j2`) does the rest.
#
# Stages, each writing files the next reads:
#   run.conf -> OUT/run.mk + OUT/conditions.tsv                      (beamline plan)
#   per setup: calibrant image -> geometry.poni (+ .svg) -> integration.engine (built once)
#   image + engine -> integrated/NAME.xy (+ masks/NAME.tif, that frame's mask, for inspection)
#   ruby spectrum, or the standard's rings in integrated/NAME.xy -> pressure/NAME.pressure
#   integrated + empty cell -> sq/NAME.{iq,sq,fq,gr} -> peaks.tsv -> series.json -> report.html
#
# A run may have several detector setups ([setup NAME] in run.conf): each has its own geometry,
# masks and engine in OUT/setups/NAME/ (a run without setups keeps them in OUT/), and each sample
# is reduced with its setup's.
#
# One bad sample does not stop the run: each sample is reduced by its own make (OUT/outcome/NAME
# says ok or failed); a failure is written to OUT/failed/NAME.txt, the sample is left out of
# peaks, series and report (which lists it), and make exits non-zero at the end. After the input
# is fixed, `make` redoes that sample alone.
#
# Changing a setting re-runs only what depends on it: every group of settings is kept in a
# params/*.txt file that is rewritten only when its content changes. Commands write to a
# temporary name and rename, and .DELETE_ON_ERROR removes what a failed recipe made.

BEAMLINE ?= beamline
CONFIG ?= run.conf
OUT ?= out

# SLURM=1: every beamline command is a Slurm job step (srun), so that `make -j N SLURM=1` on a
# cluster's login node reduces a run with N steps at a time on the compute nodes, with the same
# Makefile and the same outputs. The output directory must be on a file system the nodes share.
# SRUN_OPTIONS takes the partition, account, time limit, ... (srun's own options).
SLURM ?= 0
SRUN ?= srun
SRUN_OPTIONS ?= --quiet --ntasks=1 --cpus-per-task=1 --job-name=beamline
SUBMIT = $(if $(filter 1 yes true,$(SLURM)),$(SRUN) $(SRUN_OPTIONS) )

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all FORCE

# The report, then a non-zero exit if a sample failed.
all: $(OUT)/report.html $(OUT)/results.nxs
	@failed=$$(cd $(OUT)/failed 2>/dev/null && ls *.txt 2>/dev/null | sed 's/\.txt$$//' | tr '\n' ' '); \
	if [ -n "$$failed" ]; then echo "failed samples (see $(OUT)/failed/ and the report): $$failed" >&2; exit 1; fi

# One make at a time writes OUT: a lock (OUT/.lock, a symbolic link to the owning make's process
# id, made atomically) is taken when this file is read; a second make refuses while the owner
# runs. A lock whose process is gone (a killed run) is taken over; make's own restarts (after
# OUT/run.mk is remade) keep its process id and so its lock. The per-sample makes (below) run
# under their parent's lock.
ifndef BEAMLINE_SAMPLE_MAKE
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
endif

# The configuration, as make variables (made again, and make restarted, when it changes).
include $(OUT)/run.mk
$(OUT)/run.mk: $(CONFIG)
	$(SUBMIT)$(BEAMLINE) plan $(CONFIG) --output-dir $(OUT) > /dev/null
$(OUT)/conditions.tsv:
	$(SUBMIT)$(BEAMLINE) plan $(CONFIG) --output-dir $(OUT) > /dev/null

MEASURED = $(foreach s,$(SAMPLES),$(if $(filter ruby standard,$(pressure.$(s))),$(s)))

# Keeps $(2) in $(1), rewriting the file only when the text changes. Make's own file functions
# read and write it as the recipe is expanded: the recipe is then empty and runs no shell (a run
# of 34 images keeps about 280 such files, and a shell for each cost a second of the run).
define remember
$(if $(and $(wildcard $(1)),$(call same_text,$(2),$(file <$(1)))),,$(shell mkdir -p $(dir $(1)))$(file >$(1),$(2)))
endef
# Non-empty when $(1) and $(2) are the same text (each holds the other, so they are as long).
same_text = $(and $(findstring x$(1)x,x$(2)x),$(findstring x$(2)x,x$(1)x))

$(OUT)/params/series.txt: FORCE ; $(call remember,$@,$(SERIES_OPTIONS))

# Per setup $(1): its directory, settings, geometry, shared masks and integration engine.
define setup_rules
IMAGES.$(1) = $(EMPTY_CELL.$(1)) $(SAMPLES.$(1))
FIRST_IMAGE.$(1) = $$(image.$$(firstword $$(IMAGES.$(1))))
BACKGROUND.$(1) = $(if $(EMPTY_CELL.$(1)),$(OUT)/integrated/$(EMPTY_CELL.$(1)).xy)
$(OUT)/$(SETUP_DIR.$(1))params/calibration.txt: FORCE
	$$(call remember,$$@,$(CALIBRANT_IMAGE.$(1)) $(CALIBRANT.$(1)) $(CALIBRATION_OPTIONS.$(1)))
$(OUT)/$(SETUP_DIR.$(1))params/mask.txt: FORCE ; $$(call remember,$$@,$(SPOT_K.$(1)) $(BEAMSTOP_MASK.$(1)) $(MASK_OPTIONS.$(1)))
$(OUT)/$(SETUP_DIR.$(1))params/integration.txt: FORCE
	$$(call remember,$$@,$(BINS.$(1)) $(POLARIZATION.$(1)) $(INTEGRATION_OPTIONS.$(1)))
$(OUT)/$(SETUP_DIR.$(1))params/ruby.txt: FORCE ; $$(call remember,$$@,$(RUBY_SCALE.$(1)) $(PRESSURE_OPTIONS.$(1)))
$(OUT)/$(SETUP_DIR.$(1))params/standard.txt: FORCE
	$$(call remember,$$@,$(STANDARD.$(1)) $(STANDARD_SCALE.$(1)) $(PRESSURE_OPTIONS.$(1)))
$(OUT)/$(SETUP_DIR.$(1))params/sq.txt: FORCE ; $$(call remember,$$@,$(COMPOSITION) $(BG_SCALE.$(1)) $(SQ_OPTIONS.$(1)))

$(OUT)/$(SETUP_DIR.$(1))geometry.poni: $(CALIBRANT_IMAGE.$(1)) $(OUT)/$(SETUP_DIR.$(1))params/calibration.txt
	@mkdir -p $$(@D)
	$$(SUBMIT)$$(BEAMLINE) calibrate $$< --calibrant $(CALIBRANT.$(1)) $(CALIBRATION_OPTIONS.$(1)) -o $$@

# The masks every image shares: the beam-stop mask as it is, or, with [mask] options (shapes,
# rows, columns, values), one mask made from it and them on the setup's first image.
STATIC_MASK.$(1) = $(if $(strip $(MASK_OPTIONS.$(1))),$(OUT)/$(SETUP_DIR.$(1))masks/static.tif,$(BEAMSTOP_MASK.$(1)))
$(OUT)/$(SETUP_DIR.$(1))masks/static.tif: $$(FIRST_IMAGE.$(1)) $(OUT)/$(SETUP_DIR.$(1))params/mask.txt $(BEAMSTOP_MASK.$(1))
	@mkdir -p $$(@D)
	$$(SUBMIT)$$(BEAMLINE) mask $$< --no-validity-mask $(if $(BEAMSTOP_MASK.$(1)),--mask $(BEAMSTOP_MASK.$(1))) $(MASK_OPTIONS.$(1)) \
	    -o $$@ > /dev/null

# One integration engine per setup, built once and read by every integrate process (a few
# hundred MB for a 3450x3450 plate): `prepare` and `integrate` take the same options, and
# integrate checks the engine's key against them.
ENGINE.$(1) = $(OUT)/$(SETUP_DIR.$(1))integration.engine
ENGINE_OPTIONS.$(1) = --poni $(OUT)/$(SETUP_DIR.$(1))geometry.poni $$(if $$(STATIC_MASK.$(1)),--mask $$(STATIC_MASK.$(1))) \
    $(if $(SPOT_K.$(1)),--spots $(SPOT_K.$(1))) --bins $(BINS.$(1)) --polarization $(POLARIZATION.$(1)) \
    $(INTEGRATION_OPTIONS.$(1))
$(OUT)/$(SETUP_DIR.$(1))integration.engine: $(OUT)/$(SETUP_DIR.$(1))geometry.poni $(OUT)/$(SETUP_DIR.$(1))params/mask.txt \
    $(OUT)/$(SETUP_DIR.$(1))params/integration.txt $$(STATIC_MASK.$(1)) | $$(FIRST_IMAGE.$(1))
	$$(SUBMIT)$$(BEAMLINE) prepare $$(FIRST_IMAGE.$(1)) $$(ENGINE_OPTIONS.$(1)) -o $$@ > /dev/null
endef
$(foreach u,$(SETUPS),$(eval $(call setup_rules,$(u))))

# Per image $(1) of setup $(2) (the samples and the empty cells): which file and frame,
# remembered; its pattern, and that frame's full mask (shared masks, invalid pixels, diamond
# spots) and a thumbnail with the masks coloured (for the report) beside it.
define image_rules
$(OUT)/params/image.$(1).txt: FORCE ; $$(call remember,$$@,$(image.$(1)) $(frame.$(1)) $(2))
$(OUT)/integrated/$(1).xy: $(image.$(1)) $(OUT)/params/image.$(1).txt $$(ENGINE.$(2))
	@mkdir -p $(OUT)/masks $(OUT)/thumbnails
	$$(SUBMIT)$$(BEAMLINE) integrate $$< --frame $(frame.$(1)) --name $(1) --engine $$(ENGINE.$(2)) $$(ENGINE_OPTIONS.$(2)) \
	    --mask-output $(OUT)/masks/$(1).tif --thumbnail-output $(OUT)/thumbnails/$(1).png -o $(OUT)/integrated
endef

# Per sample: its pressure from a ruby spectrum or from the standard's reflections in its pattern.
define ruby_rule
$(OUT)/params/pressure.$(1).txt: FORCE ; $$(call remember,$$@,$(ruby.$(1)) $(temperature.$(1)))
$(OUT)/pressure/$(1).pressure: $(ruby.$(1)) $(OUT)/params/pressure.$(1).txt $(OUT)/$(SETUP_DIR.$(2))params/ruby.txt
	@mkdir -p $$(@D)
	$$(SUBMIT)$$(BEAMLINE) pressure ruby $$< --temperature $(temperature.$(1)) --scale $(RUBY_SCALE.$(2)) $(PRESSURE_OPTIONS.$(2)) \
	    -o $$@ > /dev/null
endef
define standard_rule
$(OUT)/params/pressure.$(1).txt: FORCE ; $$(call remember,$$@,standard $(temperature.$(1)))
$(OUT)/pressure/$(1).pressure: $(OUT)/integrated/$(1).xy $(OUT)/params/pressure.$(1).txt \
    $(OUT)/$(SETUP_DIR.$(2))params/standard.txt
	@mkdir -p $$(@D)
	$$(SUBMIT)$$(BEAMLINE) pressure eos $$< --temperature $(temperature.$(1)) --standard $(STANDARD.$(2)) \
	    --scale $(STANDARD_SCALE.$(2)) $(PRESSURE_OPTIONS.$(2)) -o $$@ > /dev/null
endef

# Per sample: S(Q) with its setup's empty cell and settings; its outcome, from a make of its own
# (so that a failure stays with the sample): "ok" and a hash of its S(Q) and pressure, or
# "failed" with the message in OUT/failed/NAME.txt.
define sample_rules
$(OUT)/sq/$(1).sq: $(OUT)/integrated/$(1).xy $(BACKGROUND.$(2)) $(OUT)/$(SETUP_DIR.$(2))params/sq.txt
	$$(SUBMIT)$$(BEAMLINE) sq $$< $(if $(BACKGROUND.$(2)),--background $(BACKGROUND.$(2)) --bg-scale $(BG_SCALE.$(2))) \
	    --composition $(COMPOSITION) $(SQ_OPTIONS.$(2)) -o $(OUT)/sq
RESULTS.$(1) = $(OUT)/sq/$(1).sq $(if $(filter ruby standard,$(pressure.$(1))),$(OUT)/pressure/$(1).pressure)
$(OUT)/outcome/$(1).txt: FORCE $$(ENGINE.$(2)) $(BACKGROUND.$(2)) $(OUT)/$(SETUP_DIR.$(2))params/sq.txt \
    $(OUT)/$(SETUP_DIR.$(2))params/ruby.txt $(OUT)/$(SETUP_DIR.$(2))params/standard.txt
	@mkdir -p $(OUT)/outcome $(OUT)/failed; log=$(OUT)/failed/$(1).log; \
	if $$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) BEAMLINE_SAMPLE_MAKE=1 $$(RESULTS.$(1)) 2> $$$$log; then \
	  rm -f $(OUT)/failed/$(1).txt $$$$log; state="ok $$$$(cat $$(RESULTS.$(1)) | cksum)"; \
	else \
	  { echo "$(1) ($(image.$(1)), setup $(2)) failed:"; grep -v '^make' $$$$log; } > $(OUT)/failed/$(1).txt; rm -f $$$$log; \
	  cat $(OUT)/failed/$(1).txt >&2; state=failed; \
	fi; \
	printf '%s\n' "$$$$state" | cmp -s - $$@ || { printf '%s\n' "$$$$state" > $$@.tmp && mv $$@.tmp $$@; }
endef

$(foreach u,$(SETUPS),$(foreach i,$(EMPTY_CELL.$(u)) $(SAMPLES.$(u)),$(eval $(call image_rules,$(i),$(u)))))
$(foreach s,$(SAMPLES),$(if $(filter ruby,$(pressure.$(s))),$(eval $(call ruby_rule,$(s),$(setup.$(s))))))
$(foreach s,$(SAMPLES),$(if $(filter standard,$(pressure.$(s))),$(eval $(call standard_rule,$(s),$(setup.$(s))))))
$(foreach s,$(SAMPLES),$(eval $(call sample_rules,$(s),$(setup.$(s)))))

# The samples whose outcome is ok, at the time the recipe runs.
OUTCOMES = $(SAMPLES:%=$(OUT)/outcome/%.txt)
REDUCED = $$(for s in $(SAMPLES); do grep -q '^ok' $(OUT)/outcome/$$s.txt && printf '%s ' $(OUT)/sq/$$s.sq; done)

$(OUT)/peaks.tsv: $(OUTCOMES) $(OUT)/conditions.tsv
	@reduced="$(REDUCED)"; test -n "$$reduced" || { echo "no sample was reduced: see $(OUT)/failed/" >&2; exit 1; }; \
	echo "$(BEAMLINE) peaks ... -o $@"; \
	$(SUBMIT)$(BEAMLINE) peaks $$reduced --pressures $(OUT)/pressure --conditions $(OUT)/conditions.tsv --delta-s $(OUT)/delta_s -o $@ > /dev/null

$(OUT)/series.json: $(OUT)/peaks.tsv $(OUT)/params/series.txt
	$(SUBMIT)$(BEAMLINE) series $< $(SERIES_OPTIONS) -o $@ > /dev/null

# The same results as one NeXus/HDF5 file (h5py, silx view), with the SHA-256 of every input.
$(OUT)/results.nxs: $(OUT)/series.json $(OUT)/peaks.tsv $(foreach u,$(SETUPS),$(OUT)/$(SETUP_DIR.$(u))geometry.poni)
	$(SUBMIT)$(BEAMLINE) results $(OUT) -o $@ > /dev/null

$(OUT)/report.html: $(OUT)/series.json $(OUT)/peaks.tsv $(foreach u,$(SETUPS),$(OUT)/$(SETUP_DIR.$(u))geometry.poni)
	$(SUBMIT)$(BEAMLINE) report $(OUT) -o $@
