"""Model runtimes and their pre/post-processing.

`coco`, `nanodet` and `detection` are plain numpy and safe to import anywhere.
`tfjs` and `runtime` import TensorFlow (~490 MB): only the ModelHolder process may
import them.
"""
