package io.holdfast.ops.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class DurationsTest {
  @Test
  void parsesDurationsAsPeopleWriteThem() {
    assertEquals(Duration.ofMillis(500), Durations.parse("500ms"));
    assertEquals(Duration.ofSeconds(3), Durations.parse("3s"));
    assertEquals(Duration.ofMinutes(2), Durations.parse("2m"));
    assertEquals(Duration.ofMinutes(90), Durations.parse("1h30m"));
    assertEquals(Duration.ofSeconds(61).plusMillis(5), Durations.parse("1m1s5ms"));
    assertEquals(Duration.ofDays(3_650), Durations.parse("3650d"));
    for (String bad : new String[] {"", "10", "3 s", "1.5s", "-3s", "3x", "s", "3651d", "200000d",
        "99999999999999999999s", "9223372036854775807d"}) {
      assertThrows(IllegalArgumentException.class, () -> Durations.parse(bad), bad);
    }
  }

  @Test
  void formatsShortAndReadable() {
    assertEquals("450ms", Durations.format(Duration.ofMillis(450)));
    assertEquals("3s", Durations.format(Duration.ofSeconds(3)));
    assertEquals("3.2s", Durations.format(Duration.ofMillis(3_200)));
    assertEquals("2m05s", Durations.format(Duration.ofSeconds(125)));
    assertEquals("1h02m", Durations.format(Duration.ofMinutes(62)));
    assertEquals("-", Durations.format(null));
  }

  @Test
  void aTimeoutOfZeroIsRefusedBeforeAnythingIsSent() {
    assertEquals(Duration.ofMillis(1), new PositiveDurations().convert("1ms"));
    for (String cmd : new String[] {"status", "lock"}) {
      StringWriter err = new StringWriter();
      CommandLine cl = io.holdfast.ops.HoldfastCli.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int code = cmd.equals("status")
          ? cl.execute("status", "--timeout", "0s", "--endpoints", "127.0.0.1:1")
          : cl.execute("lock", "run", "cfg", "--timeout", "0ms", "--endpoints", "127.0.0.1:1", "--", "true");
      assertTrue(code != 0, cmd + " exited 0");
      assertTrue(err.toString().contains("Invalid value for option '--timeout'")
          && err.toString().contains("at least 1ms"), err.toString());
    }
  }
}
