"""Face engine over face_recognition (dlib HOG + ResNet encodings): detect, track, encode, match, liveness.

Nothing here imports face_recognition at import time: :func:`devices.face.backend.load_backend`
does, guarded, when an engine is built.
"""
