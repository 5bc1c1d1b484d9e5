"""Input and output: CT volumes and label maps in, images and manifests out."""
