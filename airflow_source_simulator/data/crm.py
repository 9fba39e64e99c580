"""The CRM: campaigns in quarterly waves, campaign emails, and web sessions (late, purged and restored
ones in the cdc profile)."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import numpy.typing as npt

from airflow_source_simulator.data import vocabulary as vocab
from airflow_source_simulator.data.calendar import DAY, HOUR, MINUTE, NULL_TS, _epoch, day_of, day_start
from airflow_source_simulator.data.cohorts import CRM_SINCE, cohorts, created_times
from airflow_source_simulator.data.columns import Columns, concat, happened, latest, pick
from airflow_source_simulator.data.customers import CustomerRows
from airflow_source_simulator.data.hashing import I64, U64, below, hash_keys, unit
from airflow_source_simulator.data.scenario import (
    CAMPAIGN_WAVE_DAYS,
    CAMPAIGNS,
    CDC,
    LATE_SHARE,
    NEVER,
    PURGE_SHARE,
)

CAMPAIGN_START = _epoch(2024, 1, 1) // DAY  # in days
# Late sessions start between 00:30 and 04:30 and last at most an hour: all over before 06:00.
LATE_FROM, LATE_SPAN = 30 * MINUTE, 4 * HOUR
LATE_PERMUTATION = 1_000_000_007  # a prime: coprime with every cohort size (at most 5 M sessions a day)
CAMPAIGN_END = _epoch(2024, 6, 30) // DAY


class CrmRows(CustomerRows):
    @cached_property
    def campaigns(self) -> Columns:
        per_wave = CAMPAIGNS * self.scale
        ids = self.ids("campaigns")
        wave = (ids - 1) // per_wave
        first_wave = wave == 0
        themes = len(vocab.CAMPAIGN_THEMES)
        theme_round = (ids - 1) // themes
        base = pick(vocab.CAMPAIGN_THEMES, (ids - 1) % themes)
        name = concat(base, np.where(theme_round == 0, "", concat(" #", (theme_round + 1).astype(str))))
        # The first wave runs through the spring; each later wave is set up two weeks before its
        # launch day and runs 6-9 months.
        launch = wave * CAMPAIGN_WAVE_DAYS
        start = np.where(
            first_wave, CAMPAIGN_START + below(hash_keys(ids, "campaigns.start"), 60), day_start(launch) // DAY
        )
        end = np.where(
            first_wave,
            CAMPAIGN_END + below(hash_keys(ids, "campaigns.end"), 184),
            start + 180 + below(hash_keys(ids, "campaigns.end"), 90),
        )
        lead = np.where(
            first_wave, (start - 7 - below(hash_keys(ids, "campaigns.lead"), 21)) * DAY, day_start(launch - 14)
        )
        created = lead + 9 * HOUR + below(hash_keys(ids, "campaigns.created"), 8 * HOUR)
        return {
            "campaign_id": ids,
            "campaign_name": name,
            "start_date": start,
            "end_date": end,
            "budget": (5_000 + below(hash_keys(ids, "campaigns.budget"), 45_001)) * 100,
            "created_at": created,
            "updated_at": created,
            "deleted_at": np.full_like(ids, NULL_TS),
        }

    def _crm_rows(self, table: str, from_hour: float, hours: float) -> tuple[I64, I64, I64]:
        ids = self.ids(table)
        return (ids, *created_times(table, ids, cohorts(table, self.day, self.scale), CRM_SINCE, from_hour, hours))

    def _running_campaign(self, h: U64, sent: I64) -> I64:
        """A campaign of the latest wave launched before ``sent``: one that is running then."""
        per_wave = CAMPAIGNS * self.scale
        wave = np.maximum(day_of(sent) - 1, 0) // CAMPAIGN_WAVE_DAYS
        return 1 + wave * per_wave + below(h, per_wave)

    @cached_property
    def email_activity(self) -> Columns:
        ids, _, sent = self._crm_rows("email_activity", 7, 14)
        opens = unit(hash_keys(ids, "email_activity.opens")) < 0.45
        opened_at = np.where(
            opens, sent + 5 * MINUTE + below(hash_keys(ids, "email_activity.open_delay"), 2 * DAY), NULL_TS
        )
        clicks = opens & (unit(hash_keys(ids, "email_activity.clicks")) < 0.35)
        clicked_at = np.where(
            clicks, opened_at + MINUTE + below(hash_keys(ids, "email_activity.click_delay"), 2 * HOUR), NULL_TS
        )
        opened_at, clicked_at = happened(opened_at, self.end), happened(clicked_at, self.end)
        return {
            "activity_id": ids,
            "customer_id": self.pick_customer(hash_keys(ids, "email_activity.customer"), sent),
            "campaign_id": self._running_campaign(hash_keys(ids, "email_activity.campaign"), sent),
            "sent_date": sent,
            "opened": opened_at != NULL_TS,
            "clicked": clicked_at != NULL_TS,
            "created_at": sent,
            "updated_at": latest(sent, opened_at, clicked_at),
            "deleted_at": np.full_like(ids, NULL_TS),
        }

    def _late_sessions(self, ids: I64, cohort: I64) -> npt.NDArray[np.bool_]:
        """Which sessions arrive late: exactly ``round(LATE_SHARE * size)`` of each day's cohort. A key's
        position in its cohort goes through a permutation (multiplying by a prime larger than any cohort, plus
        an offset per cohort), so the choice is the same whichever key range is generated."""
        groups = cohorts("web_sessions", self.day, self.scale)
        first, size = groups.first[cohort], groups.size[cohort]
        late = np.floor(size * LATE_SHARE + 0.5).astype(np.int64)
        offset = below(hash_keys(cohort, "web_sessions.late"), np.maximum(size, 1))
        position = ((ids - first) * LATE_PERMUTATION + offset) % np.maximum(size, 1)
        return (cohort > 0) & (position < late)

    @cached_property
    def web_sessions(self) -> Columns:
        ids, cohort, start = self._crm_rows("web_sessions", 6, 16)
        if self.profile == CDC:
            # Sessions recorded offline by the mobile app sync a day late: they took place in the small hours
            # of the day before they arrive, before that day's first on-time session (06:00), so before its
            # high-water mark, and a watermark on updated_at misses every one of them.
            late = self._late_sessions(ids, cohort)
            night = day_start(cohort - 1) + LATE_FROM + below(hash_keys(ids, "web_sessions.late_at"), LATE_SPAN)
            start = np.where(late, night, start)
        seconds = 30 + below(hash_keys(ids, "web_sessions.duration"), 3_570)
        end = start + seconds
        columns = {
            "session_id": ids,
            "customer_id": self.pick_customer(hash_keys(ids, "web_sessions.customer"), start),
            "session_start": start,
            "session_end": end,
            "page_views": 1 + below(hash_keys(ids, "web_sessions.pages"), 12) + seconds // 600,
            "created_at": start,
            "updated_at": end,
            "deleted_at": np.full_like(ids, NULL_TS),
        }
        if self.profile != CDC:
            return columns
        # Bot traffic is purged (hard-deleted) a few days after it arrives; half of it is restored
        # from a backup a day or two later, with the same key and values and a new updated_at.
        purged = unit(hash_keys(ids, "web_sessions.purge")) < PURGE_SHARE
        purge_day = np.where(purged, cohort + 1 + below(hash_keys(ids, "web_sessions.purge_day"), 5), NEVER)
        restored = purged & (unit(hash_keys(ids, "web_sessions.restore")) < 0.5)
        restore_day = np.where(restored, purge_day + 1 + below(hash_keys(ids, "web_sessions.restore_day"), 2), NEVER)
        gone = (purge_day <= self.day) & (restore_day > self.day)
        restore_at = day_start(restore_day) + 8 * HOUR + below(hash_keys(ids, "web_sessions.restore_at"), 10 * HOUR)
        columns["updated_at"] = np.where(restore_day <= self.day, restore_at, end)
        return {name: values[~gone] for name, values in columns.items()}
