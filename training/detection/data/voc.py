"""The Pascal VOC names in one import (kept for existing callers).

The code lives in one module per concept:

* `voc_reader`: `load_voc_directory`, `VOCRecord`, and the table of what
  each problem does to the data;
* `voc_problems`: the problem kinds, `VOCProblem`, `VOCLoadSummary`;
* `voc_annotation`: `VOC_CLASSES`, one XML annotation, the box convention;
* `voc2007`: VOC 2007 from the original tarballs;
* `sources`: `load_detection_data`, the job's one entry point.
"""

# ruff: noqa: F401
from training.detection.data.voc2007 import VOC2007_TARBALLS
from training.detection.data.voc2007 import ensure_voc2007_directory
from training.detection.data.voc_annotation import VOC_CLASSES
from training.detection.data.voc_problems import ANNOTATION_WITHOUT_IMAGE
from training.detection.data.voc_problems import CLIPPED_BOX
from training.detection.data.voc_problems import DUPLICATE_ID
from training.detection.data.voc_problems import FILENAME_MISMATCH
from training.detection.data.voc_problems import IMAGE_SKIPPING_KINDS
from training.detection.data.voc_problems import IMAGE_WITHOUT_ANNOTATION
from training.detection.data.voc_problems import MALFORMED_XML
from training.detection.data.voc_problems import MISSING_FILES
from training.detection.data.voc_problems import OUTCOMES
from training.detection.data.voc_problems import PROBLEM_KINDS
from training.detection.data.voc_problems import SIZE_MISMATCH
from training.detection.data.voc_problems import UNKNOWN_CLASS
from training.detection.data.voc_problems import UNREADABLE_IMAGE
from training.detection.data.voc_problems import WARNING_KINDS
from training.detection.data.voc_problems import ZERO_AREA_BOX
from training.detection.data.voc_problems import VOCLoadSummary
from training.detection.data.voc_problems import VOCProblem
from training.detection.data.voc_reader import IMAGE_EXTENSIONS
from training.detection.data.voc_reader import VOCRecord
from training.detection.data.voc_reader import load_voc_directory
