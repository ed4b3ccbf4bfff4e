"""The bottom of mimic: the types every part shares (the generator's bundles and protocol, the
training pair, the trainable protocol, config overrides, image tensors), progress display and
mimic's folders. Imports nothing from the rest of mimic but its errors."""
