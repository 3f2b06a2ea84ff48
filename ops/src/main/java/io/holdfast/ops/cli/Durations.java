package io.holdfast.ops.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;

/** Durations as people write them: {@code 500ms}, {@code 3s}, {@code 2m}, {@code 1h}, {@code 1m30s}. */
public final class Durations implements ITypeConverter<Duration> {
  private static final Duration MAX = Duration.ofDays(3_650);
  private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  @Override
  public Duration convert(String value) {
    return parse(value);
  }

  public static Duration parse(String text) {
    String s = text == null ? "" : text.trim().toLowerCase();
    Matcher m = PART.matcher(s);
    Duration total = Duration.ZERO;
    int at = 0;
    while (m.find()) {
      if (m.start() != at) {
        break;
      }
      long n;
      try {
        n = Long.parseLong(m.group(1));
      } catch (NumberFormatException tooLong) {
        throw new IllegalArgumentException("'" + text + "' is longer than the most allowed, 3650d");
      }
      try {
        total = total.plus(switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(n);
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          case "h" -> Duration.ofHours(n);
          default -> Duration.ofDays(n);
        });
      } catch (ArithmeticException tooLong) {
        throw new IllegalArgumentException("'" + text + "' is longer than the most allowed, 3650d");
      }
      at = m.end();
    }
    if (s.isEmpty() || at != s.length()) {
      throw new IllegalArgumentException("'" + text + "' is not a duration (write e.g. 500ms, 3s, 2m, 1h30m)");
    }
    if (total.compareTo(MAX) > 0) {
      // Past this, deadlines in nanoseconds overflow: a --grace of 200000d killed at once.
      throw new IllegalArgumentException("'" + text + "' is longer than the most allowed, 3650d");
    }
    return total;
  }

  /** Short and readable: 450ms, 3.2s, 2m05s, 1h02m. */
  public static String format(Duration d) {
    if (d == null) {
      return "-";
    }
    long ms = d.toMillis();
    if (ms < 0) {
      return "-" + format(d.negated());
    }
    if (ms < 1_000) {
      return ms + "ms";
    }
    if (ms < 60_000) {
      return ms % 1_000 == 0 ? (ms / 1_000) + "s" : String.format("%.1fs", ms / 1000.0);
    }
    long s = ms / 1_000;
    if (s < 3_600) {
      return String.format("%dm%02ds", s / 60, s % 60);
    }
    if (s < 86_400) {
      return String.format("%dh%02dm", s / 3_600, (s % 3_600) / 60);
    }
    return String.format("%dd%02dh", s / 86_400, (s % 86_400) / 3_600);
  }
}
