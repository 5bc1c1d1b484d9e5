"""Datasets: synthetic generation, manifests, torch Datasets for synthetic and real data."""
