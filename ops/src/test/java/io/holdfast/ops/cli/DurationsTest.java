package io.holdfast.ops.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {
  @Test
  void parsesDurationsAsPeopleWriteThem() {
    assertEquals(Duration.ofMillis(500), Durations.parse("500ms"));
    assertEquals(Duration.ofSeconds(3), Durations.parse("3s"));
    assertEquals(Duration.ofMinutes(2), Durations.parse("2m"));
    assertEquals(Duration.ofMinutes(90), Durations.parse("1h30m"));
    assertEquals(Duration.ofSeconds(61).plusMillis(5), Durations.parse("1m1s5ms"));
    for (String bad : new String[] {"", "10", "3 s", "1.5s", "-3s", "3x", "s"}) {
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
}
