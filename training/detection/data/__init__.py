"""Detection data: VOC-format readers, the embedded data, VOC 2007, the tf.data pipeline.

`sources.load_detection_data` is the entry point of the detection job.
"""
