"""iotscope: classify network-telescope hosts as IoT or non-IoT from their TCP SYN packets."""

__version__ = "0.1.0"
