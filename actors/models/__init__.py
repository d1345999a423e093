"""The model side: the ModelDirectory (places holders), the ModelHolder (runs the
models, batching requests), HostBeacon and placement rules (scale out); beside them the
model runtimes and their pre/post-processing.

`coco`, `nanodet` and `detection` are plain numpy and safe to import anywhere.
`tfjs` and `runtime` import TensorFlow (~490 MB): only the ModelHolder process may
import them.
"""
