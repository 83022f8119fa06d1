#include "core/tar_writer.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include "ferry/error.hpp"

namespace ferry::detail {
namespace fs = std::filesystem;

struct TarWriter::State {
  archive* writer = nullptr;
  std::string bytes;
  bool finished = false;
};

namespace {

la_ssize_t append_bytes(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

std::string archive_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return std::string(path);
}

void check(archive* a, int rc, const std::string& what) {
  if (rc < ARCHIVE_WARN) {
    const char* why = archive_error_string(a);
    throw Error("Could not write " + what + " to a tar archive: " + (why ? why : "unknown error"));
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("Cannot read " + path.string() + " to add it to a tar archive.");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TarWriter::TarWriter(bool gzip) : state_(std::make_unique<State>()) {
  archive* a = archive_write_new();
  state_->writer = a;
  archive_write_set_format_pax_restricted(a);
  if (gzip) {
    archive_write_add_filter_gzip(a);
    // No timestamp in the gzip header: reproducible layer digests.
    archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);
  }
  archive_write_set_bytes_in_last_block(a, 1);  // no padding to 10 KiB beyond the tar end
  check(a, archive_write_open(a, &state_->bytes, nullptr, append_bytes, nullptr), "the header");
}

TarWriter::~TarWriter() {
  if (state_ && state_->writer) archive_write_free(state_->writer);
}

namespace {

void write_entry(archive* a, const std::string& path, unsigned type, unsigned mode,
                 std::string_view content, std::string_view link_target = {}) {
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, mode);
  archive_entry_set_mtime(e, 0, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  if (type == AE_IFLNK) archive_entry_set_symlink(e, std::string(link_target).c_str());
  archive_entry_set_size(e, type == AE_IFREG ? static_cast<la_int64_t>(content.size()) : 0);
  int rc = archive_write_header(a, e);
  archive_entry_free(e);
  check(a, rc, path);
  if (type == AE_IFREG && !content.empty()) {
    if (archive_write_data(a, content.data(), content.size()) < 0) check(a, ARCHIVE_FATAL, path);
  }
}

}  // namespace

void TarWriter::add_file(std::string_view path, std::string_view content, unsigned mode) {
  write_entry(state_->writer, archive_path(path), AE_IFREG, mode, content);
}

void TarWriter::add_directory(std::string_view path, unsigned mode) {
  std::string p = archive_path(path);
  if (!p.empty() && p.back() != '/') p += '/';
  write_entry(state_->writer, p, AE_IFDIR, mode, {});
}

void TarWriter::add_symlink(std::string_view path, std::string_view target) {
  write_entry(state_->writer, archive_path(path), AE_IFLNK, 0777, {}, target);
}

void TarWriter::add_path(std::string_view path, const fs::path& source) {
  std::error_code ec;
  fs::file_status st = fs::symlink_status(source, ec);
  if (ec || !fs::exists(st)) {
    throw Error("Cannot add " + source.string() + " to a tar archive: it does not exist.");
  }
  auto perms = static_cast<unsigned>(fs::status(source, ec).permissions() & fs::perms::mask);
  if (fs::is_symlink(st)) {
    add_symlink(path, fs::read_symlink(source).string());
  } else if (fs::is_directory(st)) {
    add_directory(path, perms ? perms : 0755);
    std::vector<fs::path> children;
    for (const auto& entry : fs::directory_iterator(source)) children.push_back(entry.path());
    std::sort(children.begin(), children.end());
    std::string base = archive_path(path);
    if (!base.empty() && base.back() != '/') base += '/';
    for (const fs::path& child : children) {
      add_path(base + child.filename().string(), child);
    }
  } else {
    add_file(path, read_file(source), perms ? perms : 0644);
  }
}

std::string TarWriter::finish() {
  if (!state_->finished) {
    check(state_->writer, archive_write_close(state_->writer), "the end");
    state_->finished = true;
  }
  return std::move(state_->bytes);
}

std::map<std::string, std::string> read_tar_files(std::string_view bytes) {
  std::map<std::string, std::string> files;
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_memory(a, bytes.data(), bytes.size()) != ARCHIVE_OK) {
    std::string why = archive_error_string(a) ? archive_error_string(a) : "unknown error";
    archive_read_free(a);
    throw Error("Not a tar archive: " + why);
  }
  archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    std::string content(static_cast<std::size_t>(archive_entry_size(e)), '\0');
    la_ssize_t got = archive_read_data(a, content.data(), content.size());
    if (got < 0 || static_cast<std::size_t>(got) != content.size()) break;
    files[archive_entry_pathname(e)] = std::move(content);
  }
  bool failed = rc != ARCHIVE_EOF;
  std::string why = failed && archive_error_string(a) ? archive_error_string(a) : "";
  archive_read_free(a);
  if (failed) throw Error("A tar archive is damaged: " + why);
  return files;
}

}  // namespace ferry::detail
