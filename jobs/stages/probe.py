"""The probe stage: what the asset's file really is, written onto the Asset row."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import stage_repository
from app.jobs.pipeline import StageName
from app.media.probe import probe_file
from jobs.registry import StageContext, StageOutput, StageRegistry

# Recorded on the JobStage row: the probe's behaviour changes with the bundled FFmpeg.
PROBE_MODEL = "pyav-probe"


async def run_probe(ctx: StageContext) -> StageOutput:
    """Probe the asset's blob; the Asset's technical columns are replaced on completion."""
    import av

    await ctx.report_progress(0.0)
    path = ctx.blobs.local_path(ctx.asset.blob_key)
    result = await ctx.run_sync(probe_file, path, kind=ctx.asset.kind, mime_type=ctx.asset.mime_type)
    await ctx.report_progress(1.0)
    asset_id = ctx.asset.id

    async def write(session: AsyncSession) -> None:
        await stage_repository.set_media_facts(
            session,
            asset_id=asset_id,
            duration_s=result.duration_s,
            width=result.width,
            height=result.height,
            frame_rate=result.frame_rate,
            audio_channels=result.audio_channels,
            media_info=result.media_info,
        )

    return StageOutput(write=write, model_versions={PROBE_MODEL: f"av {av.__version__}"})


def register_stages(registry: StageRegistry) -> None:
    """Register the probe stage."""
    # Probing reads headers and packets only: a minute is generous even for hours of video.
    registry.register(StageName.PROBE, run_probe, time_limit_s=120.0, max_retries=2)
