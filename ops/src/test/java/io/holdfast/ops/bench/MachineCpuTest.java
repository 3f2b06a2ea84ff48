package io.holdfast.ops.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class MachineCpuTest {
  @Test
  void sharesOfAWindowComeFromTheDifferenceOfTwoReadings() {
    // user nice system idle iowait irq softirq steal guest guest_nice
    MachineCpu a = MachineCpu.parse("cpu  1000 10 500 8000 100 0 40 50 0 0");
    MachineCpu b = MachineCpu.parse("cpu  1400 10 700 8200 120 0 60 210 30 0");
    MachineCpu.Window w = a.until(b);
    // busy 620 (user 400, system 200, softirq 20), idle 200, iowait 20, steal 160: 1,000 ticks
    assertEquals(62.0, w.busyPct());
    assertEquals(2.0, w.iowaitPct());
    assertEquals(16.0, w.stealPct());
    assertTrue(w.stolen());
  }

  @Test
  void aRunWithoutStealIsNotFlaggedAndItsSharesAreReported() {
    MachineCpu a = MachineCpu.parse("cpu 100 0 100 800 0 0 0 0");
    MachineCpu b = MachineCpu.parse("cpu 250 0 150 1000 0 0 0 1");
    MachineCpu.Window w = a.until(b);
    assertFalse(w.stolen());
    BenchReport r = new BenchReport("W1 locks");
    StringWriter err = new StringWriter();
    w.report(r, new PrintWriter(err));
    assertEquals(200.0 / 401 * 100, (double) r.figures().get("machine_cpu_busy_pct"), 0.1);
    assertEquals(0.2, r.figures().get("machine_cpu_steal_pct"));
    assertEquals("", err.toString());
  }

  @Test
  void aStolenWindowIsSaidOnTheErrorStream() {
    MachineCpu.Window w = MachineCpu.parse("cpu 0 0 0 0 0 0 0 0").until(MachineCpu.parse("cpu 50 0 0 40 0 0 0 10"));
    StringWriter err = new StringWriter();
    w.report(new BenchReport("W2 locks --shared"), new PrintWriter(err));
    assertTrue(err.toString().contains("took 10.0 % of the machine's CPU"), err.toString());
  }

  @Test
  void anEmptyWindowReportsZeroesAndAnotherLineIsRefused() {
    MachineCpu a = MachineCpu.parse("cpu 1 1 1 1 1 1 1 1");
    assertEquals(new MachineCpu.Window(0, 0, 0), a.until(a));
    assertThrows(IllegalArgumentException.class, () -> MachineCpu.parse("cpu0 1 1 1 1 1 1 1 1"));
    assertThrows(IllegalArgumentException.class, () -> MachineCpu.parse("cpu 1 2 3"));
  }

  @Test
  void thisMachineCanBeRead() {
    // On Linux (the project's platform) the counters exist and only grow.
    MachineCpu now = MachineCpu.read().orElseThrow();
    assertTrue(now.busy() + now.idle() > 0);
  }
}
