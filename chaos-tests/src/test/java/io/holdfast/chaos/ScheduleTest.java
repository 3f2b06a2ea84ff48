package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.chaos.Schedule.Fault;
import io.holdfast.chaos.Schedule.Kind;
import io.holdfast.chaos.Schedule.Profile;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ScheduleTest {
  @Test
  void theSameSeedGivesTheSameSchedule() {
    assertEquals(Schedule.generate(42, Profile.defaults()), Schedule.generate(42, Profile.defaults()));
    assertEquals(Schedule.generate(42, Profile.defaults()).toJson(), Schedule.generate(42, Profile.defaults()).toJson());
  }

  @Test
  void everyScheduleFitsTheRunAndPausesAWorker() {
    Profile p = Profile.defaults();
    for (long seed = 0; seed < 500; seed++) {
      Schedule s = Schedule.generate(seed, p);
      assertFalse(s.faults().isEmpty());
      assertTrue(s.faults().stream().anyMatch(f -> f.kind() == Kind.PAUSE_WORKER), "seed " + seed);
      long end = 0;
      for (Fault f : s.faults()) {
        assertTrue(f.atMs() >= end + (end == 0 ? 0 : p.minGapMs()), "faults overlap, seed " + seed);
        end = f.atMs() + f.durationMs();
        assertTrue(end <= p.opsMs() - 5_000, "fault not healed before the end, seed " + seed);
        if (f.kind() == Kind.PAUSE_LEADER) {
          assertTrue(f.durationMs() > p.electionTimeoutMaxMs() && f.durationMs() < p.sessionTtlMs(), "seed " + seed);
        }
        if (f.kind() == Kind.PAUSE_WORKER) {
          assertTrue(f.durationMs() > p.sessionTtlMs(), "seed " + seed);
        }
      }
    }
  }

  @Test
  void theScheduleIsWrittenAsJson() {
    Map<String, Object> m = Json.parseObject(Schedule.generate(7, Profile.defaults()).toJson());
    assertEquals(7L, m.get("seed"));
    assertTrue(((List<?>) m.get("faults")).size() >= 1);
  }
}
