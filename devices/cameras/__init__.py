"""Frame sources over OpenCV (RTSP URL, USB index, video file) and a folder of images, and reconnection."""
