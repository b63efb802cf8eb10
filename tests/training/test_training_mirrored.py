"""--strategy mirrored trains on two logical CPU devices."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from training.detection.data.embedded import EMBEDDED_CLASSES, EmbeddedConfig, ensure_embedded_dataset
    from training.detection.config import DetectionConfig
    from training.detection.job import train_detection
    data = ensure_embedded_dataset(EmbeddedConfig(seed=9, num_train=16, num_val=1, num_test=4),
                                   sys.argv[1] + "/data")
    config = DetectionConfig(
        data=str(data), model="resolution", hinge_weight=1e-3,
        epochs=1, image_size=64, batch_size=8, learning_rate=1e-3, final_learning_rate=1e-4,
        optimizer="adam", freeze_backbone=False, eval_every=1, train_split="train",
        eval_split="test", classes=list(EMBEDDED_CLASSES), strategy="mirrored")
    results = train_detection(config, sys.argv[1] + "/run", verbose=0)
    print("RESULT " + json.dumps(results))
""")


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "MirroredStrategy over 2 devices" in completed.stdout
    line = [l for l in completed.stdout.splitlines() if l.startswith("RESULT ")][-1]
    results = json.loads(line[len("RESULT "):])
    assert 0.0 <= results["map50"] <= 1.0
    assert results["panet_complexity"] > 0
    assert (tmp_path / "run" / "last.keras").exists()
