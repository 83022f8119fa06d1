// Tar archives in memory (libarchive): Docker build contexts and OCI image layers.
//
// Archives are reproducible: every entry has mtime 0, uid/gid 0 and no user or group names,
// and gzip output carries no timestamp, so the same inputs always give the same bytes (and
// so the same layer digest: an unchanged flow gives an unchanged image layer).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::detail {

class TarWriter {
 public:
  explicit TarWriter(bool gzip = false);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Paths are archive paths ("opt/ferry/flows/a.ferry"); a leading "/" is dropped. Parent
  // directories are not added implicitly: call add_directory for each where it matters.
  void add_file(std::string_view path, std::string_view content, unsigned mode = 0644);
  void add_directory(std::string_view path, unsigned mode = 0755);
  void add_symlink(std::string_view path, std::string_view target);
  // A file, or a directory tree (sorted, symlinks kept as links), from the local disk under
  // `path`. A missing source is a ferry::Error naming it.
  void add_path(std::string_view path, const std::filesystem::path& source);
  // Ends the archive and returns its bytes; the writer takes no more entries.
  std::string finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The regular files of a tar or tar.gz archive: archive path -> content (for tests and
// for reading image layers back).
std::map<std::string, std::string> read_tar_files(std::string_view archive);

}  // namespace ferry::detail
