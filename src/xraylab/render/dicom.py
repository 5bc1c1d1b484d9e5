"""DICOM DX out: a simulated radiograph as a Digital X-Ray Image (For Presentation and For Processing).

:func:`write_dx` writes one 16-bit ``MONOCHROME2`` image with the acquisition written into the standard attributes,
so PACS viewers, pydicom and SimpleITK read the geometry and technique of the simulation. ``xraylab render --dicom``
and ``generate`` with ``output.dicom: true`` write two per view (:func:`render_dx_blobs`): the for-presentation
image (the PNG's pixels: display image, bright = attenuating, ``PixelIntensityRelationship`` LIN) and the
for-processing image (the render's −ln(I/I₀) / 8 × 65535, the pixels of ``image_for_processing.png``; LOG).

==============================  ===========  ========================================================================
attribute                       tag          value
==============================  ===========  ========================================================================
SOPClassUID                     (0008,0016)  DX For Presentation ``1.2.840.10008.5.1.4.1.1.1.1`` or For Processing
                                             ``1.2.840.10008.5.1.4.1.1.1.1.1`` (DICOM PS3.4 B.5)
PresentationIntentType          (0008,0068)  ``FOR PRESENTATION`` / ``FOR PROCESSING`` (PS3.3 C.8.11.1)
ImagerPixelSpacing              (0018,1164)  spacing of the stored pixels at the detector plane, mm (row, column)
PixelSpacing                    (0028,0030)  the same divided by SID/SOD: spacing at the isocenter, mm
                                             (``PixelSpacingCalibrationType`` = ``GEOMETRY``, PS3.3 C.8.11.4/10.7)
EstimatedRadiographicMagnif…    (0018,1114)  SID / SOD
KVP                             (0018,0060)  tube voltage, kV
Exposure / ExposureInuAs        (0018,1152)  tube load in mAs (integer) / (0018,1153) in µAs (integer)
DistanceSourceToDetector        (0018,1110)  SID, mm
DistanceSourceToPatient         (0018,1111)  source to isocenter (SOD), mm
EntranceDoseInmGy               (0040,0302)  entrance surface air kerma with backscatter, mGy
ImageAndFluoroscopyAreaDoseProduct (0018,115E) dose–area product, dGy·cm²
ViewPosition                    (0018,5101)  ``PA`` / ``AP``
PatientOrientation              (0020,0020)  ``L\\F``: columns run to the patient's left, rows to the feet (xraylab
                                             shows PA and AP alike as the viewer facing the patient)
DerivationDescription           (0008,2111)  "simulated PA radiograph derived from CT '<name>' by xraylab <version>;
                                             rotation …; preset …" (also ImageComments)
==============================  ===========  ========================================================================

UIDs are derived from the caller's ``uid_seed`` text (pydicom ``generate_uid(entropy_srcs=...)``) and no date or
time is written unless given, so the same render writes the same bytes. Pixel values are stored unchanged
(``RescaleSlope`` 1, ``RescaleIntercept`` 0, as the DX Image module requires); a presentation image's window covers
its range. SimpleITK (GDCM) reports a DX file's ``ImagerPixelSpacing`` as its spacing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xraylab.errors import ConfigError

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DX_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"


@dataclass(frozen=True)
class DXAcquisition:
    """The technique and geometry written into a DX file (lengths in mm, voltage in kV, tube load in mAs).

    ``imager_spacing_mm``: (row, column) spacing of the stored pixels at the detector plane; ``sod_mm``: source to
    isocenter (DICOM's "source to patient"); ``view``: ``PA`` or ``AP``.
    """

    imager_spacing_mm: tuple[float, float]
    kvp: float | None = None
    mas: float | None = None
    sid_mm: float | None = None
    sod_mm: float | None = None
    view: str = "PA"
    entrance_dose_mgy: float | None = None
    area_dose_product_dgy_cm2: float | None = None
    patient_orientation: tuple[str, str] = ("L", "F")
    body_part: str = "CHEST"

    @property
    def magnification(self) -> float | None:
        """SID / SOD, or None when either is unknown."""
        if self.sid_mm and self.sod_mm:
            return float(self.sid_mm) / float(self.sod_mm)
        return None


def acquisition_from(geometry: Any, physics: Any, shape: Sequence[int],
                     spacing_mm: float | None = None, dose: dict | None = None) -> DXAcquisition:
    """A :class:`DXAcquisition` from a resolved :class:`~xraylab.physics.geometry.Geometry` and
    :class:`~xraylab.physics.config.PhysicsConfig`, for an image of ``shape`` (rows, cols). Without
    ``spacing_mm`` (detector-plane spacing of the stored pixels) the image covers the whole detector: the detector
    extent divided by the image's pixel counts (a resized image; xraylab keeps the aspect ratio, so a padded image
    gets the larger of the two). ``dose``: the render's :func:`xraylab.physics.dose.dose_report`, written as
    EntranceDoseInmGy and ImageAndFluoroscopyAreaDoseProduct."""
    rows, cols = int(shape[0]), int(shape[1])
    if spacing_mm is not None and np.isfinite(spacing_mm) and spacing_mm > 0:
        spacing = (float(spacing_mm), float(spacing_mm))
    else:
        extent = (geometry.rows * geometry.pitch_mm, geometry.cols * geometry.pitch_mm)
        step = max(extent[0] / rows, extent[1] / cols)  # resize_pad keeps the aspect: one scale, zero padding
        spacing = (step, step)
    spectrum = getattr(physics, "spectrum", None)
    return DXAcquisition(
        imager_spacing_mm=spacing,
        kvp=getattr(spectrum, "kvp", None),
        mas=getattr(spectrum, "mas", None),
        sid_mm=geometry.sid_mm,
        sod_mm=geometry.sod_mm,
        view=str(geometry.view),
        entrance_dose_mgy=dose["entrance_surface_air_kerma_ugy"] / 1000.0 if dose else None,
        area_dose_product_dgy_cm2=dose["dose_area_product_gy_cm2"] * 10.0 if dose else None,
    )


def _ds(value: float) -> str:
    """A DICOM decimal string (at most 16 characters)."""
    text = f"{float(value):.10g}"
    return text if len(text) <= 16 else f"{float(value):.6e}"


def dx_dataset(
    pixels_uint16: np.ndarray,
    acquisition: DXAcquisition,
    *,
    for_processing: bool = False,
    derivation: str = "simulated radiograph derived from CT by xraylab",
    patient_id: str = "xraylab",
    patient_name: str = "xraylab^simulated",
    uid_seed: str = "",
    series_description: str = "",
    instance_number: int = 1,
    bits_stored: int = 16,
    content_date: str | None = None,
    intensity_sign: int = -1,
    intensity_relationship: str = "LIN",
) -> Any:
    """``pixels_uint16`` (``[rows, cols]`` uint16, bright = attenuating) as a DICOM DX pydicom ``FileDataset``.

    ``for_processing`` selects the SOP class and PresentationIntentType; ``derivation`` goes into
    DerivationDescription and ImageComments; ``uid_seed`` makes the study/series/instance UIDs reproducible (the
    series UID also depends on ``for_processing``, the instance UID on both); ``content_date`` ``YYYYMMDD`` (default
    none, for reproducible bytes); ``intensity_sign``: PixelIntensityRelationshipSign, -1 when a higher value means
    less X-ray intensity (xraylab's display images and −ln(I/I₀)), +1 for a raw detector signal;
    ``intensity_relationship``: ``LIN`` or ``LOG`` (PixelIntensityRelationship). Raises :class:`ConfigError` for a
    non-2D or non-uint16 array.
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from xraylab import __version__

    px = np.asarray(pixels_uint16)
    if px.ndim != 2 or px.dtype != np.uint16:
        raise ConfigError(f"DICOM DX needs a 2D uint16 image, got {px.dtype} {px.shape}")
    if not 1 <= bits_stored <= 16:
        raise ConfigError(f"DICOM DX: bits_stored must be 1..16, got {bits_stored}")
    a = acquisition
    intent = "FOR PROCESSING" if for_processing else "FOR PRESENTATION"
    sop_class = DX_FOR_PROCESSING if for_processing else DX_FOR_PRESENTATION
    seed = uid_seed or f"{patient_id}|{derivation}"
    study_uid = generate_uid(entropy_srcs=[seed, "study"])
    series_uid = generate_uid(entropy_srcs=[seed, "series", intent])
    sop_uid = generate_uid(entropy_srcs=[seed, "instance", intent, str(instance_number)])

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.UID(sop_class)
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"XRAYLAB_{__version__}"[:16]

    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    # SOP common, patient, study, series, equipment (PS3.3 C.12.1, C.7.1.1, C.7.2.1, C.8.11.1, C.7.5.1)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = patient_name
    ds.PatientID = patient_id[:64]
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = content_date or ""
    ds.StudyTime = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.Modality = "DX"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 2 if for_processing else 1
    ds.SeriesDescription = (series_description or f"xraylab {a.view} {intent.lower()}")[:64]
    ds.Manufacturer = "xraylab (simulation)"
    ds.ManufacturerModelName = "xraylab"
    ds.SoftwareVersions = str(__version__)
    ds.PresentationIntentType = intent
    # general image, DX anatomy / image / detector / positioning (PS3.3 C.7.6.1, C.8.11.2-7)
    ds.InstanceNumber = int(instance_number)
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.DerivationDescription = derivation[:1024]
    ds.ImageComments = derivation[:10240]
    ds.PatientOrientation = list(a.patient_orientation)
    if content_date:
        ds.ContentDate = content_date
    ds.ContentTime = ""
    ds.BodyPartExamined = a.body_part
    ds.ImageLaterality = "U"
    ds.ViewPosition = a.view
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    if intensity_relationship not in ("LIN", "LOG"):
        raise ConfigError(f"DICOM DX: intensity_relationship must be LIN or LOG, got {intensity_relationship!r}")
    ds.PixelIntensityRelationship = intensity_relationship
    if intensity_sign not in (-1, 1):
        raise ConfigError(f"DICOM DX: intensity_sign must be -1 or +1, got {intensity_sign}")
    ds.PixelIntensityRelationshipSign = int(intensity_sign)  # -1: higher value = less X-ray (attenuating = bright)
    ds.PresentationLUTShape = "IDENTITY"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.ImagerPixelSpacing = [_ds(a.imager_spacing_mm[0]), _ds(a.imager_spacing_mm[1])]
    ds.DetectorType = "SCINTILLATOR"
    mag = a.magnification
    if mag:
        ds.EstimatedRadiographicMagnificationFactor = _ds(mag)
        ds.PixelSpacing = [_ds(a.imager_spacing_mm[0] / mag), _ds(a.imager_spacing_mm[1] / mag)]
        ds.PixelSpacingCalibrationType = "GEOMETRY"
        ds.PixelSpacingCalibrationDescription = "imager pixel spacing divided by SID/SOD (isocenter plane)"
    # X-ray acquisition dose / generation (PS3.3 C.8.7.8, C.8.11.7)
    if a.kvp is not None:
        ds.KVP = _ds(a.kvp)
    if a.mas is not None:
        ds.Exposure = int(round(float(a.mas)))
        ds.ExposureInuAs = int(round(float(a.mas) * 1000.0))
    if a.sid_mm is not None:
        ds.DistanceSourceToDetector = _ds(a.sid_mm)
    if a.sod_mm is not None:
        ds.DistanceSourceToPatient = _ds(a.sod_mm)
    if a.entrance_dose_mgy is not None:  # (0040,0302) ESAK incl. backscatter, mGy; (0018,115E) DAP, dGy·cm²
        ds.EntranceDoseInmGy = _ds(a.entrance_dose_mgy)
    if a.area_dose_product_dgy_cm2 is not None:
        ds.ImageAndFluoroscopyAreaDoseProduct = _ds(a.area_dose_product_dgy_cm2)
    # image pixel (PS3.3 C.7.6.3)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(px.shape[0]), int(px.shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = int(bits_stored)
    ds.HighBit = int(bits_stored) - 1
    ds.PixelRepresentation = 0
    lo, hi = int(px.min(initial=0)), int(px.max(initial=0))
    if not for_processing:  # VOI LUT module: required for presentation images
        ds.WindowCenter = _ds((lo + hi) / 2.0)
        ds.WindowWidth = _ds(max(hi - lo, 1))
    ds.PixelData = np.ascontiguousarray(px, dtype="<u2").tobytes()
    return ds


def dx_bytes(pixels_uint16: np.ndarray, acquisition: DXAcquisition, **options: Any) -> bytes:
    """The bytes of a DICOM DX file (Part 10, explicit VR little endian); ``options`` as :func:`dx_dataset`."""
    import io

    buf = io.BytesIO()
    dx_dataset(pixels_uint16, acquisition, **options).save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write_dx(path: str | os.PathLike, pixels_uint16: np.ndarray, acquisition: DXAcquisition, **options: Any) -> Path:
    """Write ``pixels_uint16`` as a DICOM DX file at ``path`` (atomically); ``options`` as :func:`dx_dataset`."""
    from xraylab.io.atomic import write_bytes

    try:
        data = dx_bytes(pixels_uint16, acquisition, **options)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Path(write_bytes(path, data))


def derivation_text(ct_name: str, geometry: Any, preset: str = "", renderer: str = "") -> str:
    """The DerivationDescription of a render: CT, view, rotation/tilt, preset, xraylab version."""
    from xraylab import __version__

    parts = [f"simulated {geometry.view} radiograph derived from CT '{ct_name}' by xraylab {__version__}",
             f"rotation {geometry.rotation_deg:g} deg, tilt {geometry.tilt_deg:g} deg"]
    if preset:
        parts.append(f"preset {preset}")
    if renderer:
        parts.append(f"{renderer} ray tracing")
    return "; ".join(parts)


def view_dx_blobs(
    image: np.ndarray,
    for_processing: np.ndarray | None,
    acquisition: DXAcquisition,
    *,
    derivation: str,
    uid_seed: str,
    patient_id: str = "xraylab",
) -> dict[str, bytes]:
    """DX files of one rendered view: ``{"": For Presentation}`` from ``image`` (float ``[H, W]`` in [0, 1]) plus
    ``{"_for_processing": For Processing}`` from ``for_processing`` (float ``[H, W]``, −ln(I/I₀), the render's
    for-processing layer) when given: stored as −ln(I/I₀) / 8 × 65535 like ``image_for_processing.png``
    (:func:`xraylab.render.for_processing_png`), PixelIntensityRelationship ``LOG``, sign −1. Keys are file-name
    suffixes."""
    from xraylab.io.images import to_uint16
    from xraylab.render.view import FOR_PROCESSING_SCALE, for_processing_png

    common = {"derivation": derivation, "uid_seed": uid_seed, "patient_id": patient_id}
    out = {"": dx_bytes(to_uint16(image), acquisition, **common)}
    if for_processing is not None:
        note = (f"; for processing: stored value = -ln(I/I0) / {FOR_PROCESSING_SCALE:g} x 65535 (flat-fielded, log, "
                "before display post-processing)")
        out["_for_processing"] = dx_bytes(
            to_uint16(for_processing_png(np.nan_to_num(for_processing, nan=0.0))), acquisition, for_processing=True,
            intensity_relationship="LOG", uid_seed=uid_seed, patient_id=patient_id, derivation=derivation + note)
    return out


def render_dx_blobs(
    result: Any,
    arrays: Any,
    physics: Any,
    ct_name: str,
    seed: int,
    *,
    spacing_mm: float | None = None,
    preset: str = "",
    renderer: str = "",
) -> dict[str, bytes]:
    """The DX files of one :class:`~xraylab.render.RenderResult` as written by ``render``/``generate``.

    ``arrays``: the :class:`~xraylab.render.ViewArrays` written for it (``image`` and, when present,
    ``for_processing`` on the output grid); ``spacing_mm``: detector-plane spacing of a cropped image (None: the
    image covers the whole detector). Keys are file-name suffixes (``""``, ``"_for_processing"``).
    """
    geometry = result.projection.geometries[0]
    acq = acquisition_from(geometry, physics, arrays.image.shape, spacing_mm, getattr(result, "dose", None))
    return view_dx_blobs(arrays.image, arrays.for_processing, acq,
                         derivation=derivation_text(ct_name, geometry, preset, renderer),
                         uid_seed=f"{ct_name}|{geometry.model_dump_json()}|{seed}", patient_id=ct_name)
