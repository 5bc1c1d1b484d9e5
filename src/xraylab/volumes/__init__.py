"""3D CT segmentation: the RAMP experiment (Kang et al. 2026) on real CT volumes.

The volume dataset, its import and its degradation are stages of :mod:`xraylab.data` like their 2D
counterparts: :mod:`xraylab.data.volume_dataset` (CT + label NIfTI items written by the one
:class:`~xraylab.data.writer.DatasetWriter`, read back as tensors), :mod:`xraylab.data.volume_classes` (each
source's class table -> output class ids), :mod:`xraylab.data.volume_import` (folder / TotalSegmentator /
AbdomenCT-1K layouts of :mod:`xraylab.io.ct_collections` and data manifests -> a volume dataset) and
:mod:`xraylab.data.volume_degrade` (``xraylab degrade`` on a volume dataset). This package trains and scores.

Modules (one idea each):

=================  =====================================================================
``augment``        training strategies on volumes: none, single, all_corruption, intensity,
                   geometric, artifact, ramp (RAMP entries of the degrade registry, with the voxel spacing)
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
