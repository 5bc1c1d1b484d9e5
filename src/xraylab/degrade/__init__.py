"""Image-space degradations: physics-based X-ray, dermoscopy and CT corruptions, burnt-in
annotations, traditional baselines and the RAMP augmentation pipeline (image operations only:
writing a degraded dataset is the data-stage job :mod:`xraylab.data.degrade_job`).

Modules (one idea each):

=================  =====================================================================
``base``           the :class:`~xraylab.degrade.base.Corruption` contract (parameter table
                   per level, ``apply(image, severity, generator)``, masks)
``registry``       name -> corruption: ``get(name)``, ``names(modality)``,
                   ``defaults(modality)`` (without the opt-in ones)
``xray``           Ward & Imran eq. 1-8: acquisition geometry, anti-scatter grid, beam
                   energy, collimation, detector performance, focal spot, tube current
``traditional``    GB / GN / HB / LB baselines
``dermoscopy``     Ward & Imran eq. 9-12: blur, colour reproduction (+ CIEDE2000),
                   focal-plane flatness, resolution
``ct``             RAMP Table 2: the 13 CT operators, 2D slices and 3D volumes
``annotations``    burnt-in lead L/R markers, text, rulers and arrows (physics-free, opt-in),
                   with the mask of the pixels drawn: ``burn_in(image, severity, g)``
``ramp``           RAMP Table 1 stages and the multi-corruption sampler
``pipelines``      ``make_augmentation(strategy, **options)`` for the trainer
``filters``        FFT-based separable / 2D convolution, motion kernels, MTF, resampling
``color``          RGB <-> HSV, CIEDE2000 report
``rng``            explicit generator helpers (never the global RNG)
=================  =====================================================================

Conventions: images are float tensors in [0, 1], ``[B, C, H, W]`` (CT operators also
``[B, C, D, H, W]``), on any device; severity 0 is the identity, levels 1..N are the
evaluation levels and fractional severities interpolate the parameter table.
"""
