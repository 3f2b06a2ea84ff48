package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StorageProbeTest {
  @TempDir
  Path dir;

  @Test
  void aWritableDirectoryPassesAndKeepsNoFile() throws IOException {
    StorageProbe probe = StorageProbe.forRaftStorage(dir);
    probe.check();
    probe.check();
    assertFalse(Files.exists(probe.file()), "the probe file is deleted after each check");
    try (var files = Files.list(dir)) {
      assertFalse(files.findAny().isPresent(), "nothing is left in the storage directory");
    }
  }

  @Test
  void aStorageDirectoryThatCannotBeWrittenFails() throws IOException {
    // Gone (an unmounted disk), or a file where the directory should be: both are unwritable to root too.
    assertThrows(IOException.class, () -> StorageProbe.forRaftStorage(dir.resolve("gone")).check());
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
    assertThrows(IOException.class, () -> StorageProbe.forRaftStorage(file).check());
  }

  @Test
  void aLeftoverProbeFileFromACrashIsOverwrittenAndRemoved() throws IOException {
    StorageProbe probe = StorageProbe.forRaftStorage(dir);
    Files.write(probe.file(), new byte[1 << 20]);
    probe.check();
    assertFalse(Files.exists(probe.file()));
  }
}
