"""Using a trained run: loading its models (trained.py, weights.py), scoring rows (predictor.py),
exporting them to ONNX with a standalone scorer (exporter.py, onnx_graph.py, scorer.py), and
explaining what drives them (explainer.py, explain_outputs.py)."""
