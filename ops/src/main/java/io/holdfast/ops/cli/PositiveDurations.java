package io.holdfast.ops.cli;

import java.time.Duration;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A {@link Durations} of at least 1 ms: for a time that bounds a call, where 0 would fail it before it is sent. */
public final class PositiveDurations implements ITypeConverter<Duration> {
  @Override
  public Duration convert(String value) {
    Duration d;
    try {
      d = Durations.parse(value);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
    if (d.compareTo(Duration.ofMillis(1)) < 0) {
      throw new TypeConversionException("'" + value + "' is too short: at least 1ms");
    }
    return d;
  }
}
