"""Dataset readers: VOCdevkit directories and tensorflow-datasets VOC 2007."""
