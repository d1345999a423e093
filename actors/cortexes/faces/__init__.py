"""faces: the cortex, its enrolment store and its Rekognition client."""

from actors.cortexes.faces.cortex import Faces

__all__ = ["Faces"]
