"""The detection experiment: VOC and embedded data, YOLOv8 training jobs,
mAP@0.5 and the Table 1 sweep."""
