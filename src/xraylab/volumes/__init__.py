"""Volume datasets and 3D CT segmentation: the RAMP experiment (Kang et al. 2026) on real CT volumes.

Modules (one idea each):

=================  =====================================================================
``classes``        output classes and each source's class table (TotalSegmentator names,
                   AbdomenCT-1K integer ids) -> output class ids
``dataset``        the volume dataset: CT + label NIfTI items written by the one
                   :class:`~xraylab.data.writer.DatasetWriter`, read back as tensors
``importers``      folder / TotalSegmentator / AbdomenCT-1K layouts and data manifests ->
                   a volume dataset (LPS, isotropic voxels, HU window -> [0, 1]),
                   pseudo-subjects by smooth deformation
``degrade``        ``xraylab degrade`` on a volume dataset: 13 RAMP operators x 5 levels in
                   3D, lengths in mm from the voxel spacing, recorded per item
``augment``        training strategies on volumes: none, single, all_corruption, intensity,
                   geometric, artifact, ramp (with the voxel spacing)
``spec``           the 3D training spec (``task: segmentation_3d``)
``train``          MONAI DynUNet / UNet training on random patches, sliding-window validation
``metrics``        3D Dice and HD95 of label maps (xraylab.metrics, MONAI definitions, HD95 in mm)
``evaluate``       per-volume scores of a model on clean + degraded volumes, the RAMP Table 5
                   layout and LOCO
``experiment``     the whole study from one spec (``simulations/ramp_ct_*.yaml``)
=================  =====================================================================

Conventions: volumes are float tensors ``[I, J, K]`` in [0, 1] in LPS index order (I = patient right->left),
``[B, 1, I, J, K]`` for the models; label maps are integer ``[I, J, K]`` with 0 = background and
1..C = the dataset's ``classes``; spacing is in mm per index axis.
"""
