"""Files on disk: images, videos (read; written with the driver's audio), weight files, contact
sheets, glTF, and the one way every output is written (a temporary file renamed into place)."""
