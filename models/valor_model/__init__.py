"""Valor built-in policy: arithmetic task, tiny decoder-only transformer, ONNX export."""
