package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Result;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class ResultCodecTest {

  /** At least one sample of every kind, with no field left at its default where that can be avoided. */
  static List<Result> samples() {
    List<Result> out = new ArrayList<>(List.of(
        new Result.Failure(ErrorCode.STALE_TOKEN, "token 7 is not the current token (current token 42)", 42),
        new Result.Failure(ErrorCode.INVALID_ARGUMENT, ""),
        new Result.SessionOpened(1_234_567_890_123L, 15_000),
        new Result.SessionClosed(List.of()),
        new Result.SessionClosed(List.of("b", "a/x", "svc/db:primary")),
        new Result.SessionExpired(true, List.of("x", "y")),
        new Result.SessionExpired(false, List.of()),
        new Result.Granted(Long.MAX_VALUE),
        new Result.Granted(3),
        new Result.Queued(1),
        new Result.Queued(Integer.MAX_VALUE),
        new Result.NotGranted(77),
        new Result.NotGranted(0),
        new Result.Released(0),
        new Result.Released(88),
        new Result.Revoked(7, 40, 9, 55, 0),
        new Result.KvWritten(101, true),
        new Result.KvWritten(102, false),
        new Result.Revoked(7, 40, 0, 0, 15_000),
        new Result.CheckpointApplied(List.of()),
        new Result.ApplyRulesRaised(3),
        new Result.CheckpointApplied(List.of(9L, 3L, 1_000_000_000_000L)),
        new Result.Batch(List.of(new Result.Granted(12), new Result.Failure(ErrorCode.NOT_HOLDER, "no", 11),
            new Result.SessionClosed(List.of("a")))),
        new Result.Batch(List.of())));
    for (boolean granted : new boolean[] {false, true}) {
      for (boolean released : new boolean[] {false, true}) {
        out.add(new Result.WaitCancelled(granted, released, granted ? 99 : 0));
      }
    }
    return out;
  }

  @ParameterizedTest
  @MethodSource("samples")
  void everyResultRoundTrips(Result r) throws Exception {
    assertEquals(r, ResultCodec.decode(ResultCodec.encode(r)));
  }

  @ParameterizedTest
  @EnumSource(ErrorCode.class)
  void everyErrorCodeRoundTrips(ErrorCode code) throws Exception {
    Result r = new Result.Failure(code, "because " + code, 5);
    assertEquals(r, ResultCodec.decode(ResultCodec.encode(r)));
  }

  @Test
  void samplesCoverEveryResultKind() {
    Set<Class<?>> kinds = Arrays.stream(Result.class.getPermittedSubclasses()).collect(Collectors.toSet());
    Set<Class<?>> sampled = samples().stream().map(Object::getClass).collect(Collectors.toSet());
    assertEquals(kinds, sampled, "add a sample (and codec support) for every new Result kind");
  }

  @Test
  void unknownKindIsRefused() {
    byte[] bytes = io.holdfast.server.statemachine.proto.Result.newBuilder().setKind("Exploded").build().toByteArray();
    assertThrows(InvalidProtocolBufferException.class, () -> ResultCodec.decode(bytes));
  }

  @Test
  void distinctResultsEncodeDistinctly() {
    List<byte[]> encoded = Stream.concat(samples().stream(), Stream.of(new Result.Failure(ErrorCode.NOT_HOLDER, "x")))
        .map(ResultCodec::encode).toList();
    Set<String> unique = encoded.stream().map(Arrays::toString).collect(Collectors.toSet());
    assertEquals(encoded.size(), unique.size());
  }
}
