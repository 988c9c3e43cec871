{
  "targets": [
    {
      "target_name": "pinlab",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/pattern.cc",
        "native/aligned_buffer.cc",
        "native/device.cc",
        "native/batch.cc",
        "native/sync_io.cc",
        "native/aio.cc",
        "native/uring.cc",
        "native/splice.cc",
        "native/loop.cc",
        "native/passthru.cc",
        "native/sg_io.cc",
        "native/fork_race.cc",
        "native/process_vm.cc",
        "native/udmabuf.cc",
        "native/gup_test.cc",
        "native/tsc.cc",
        "native/page_status.cc",
        "native/fork_storm.cc",
        "native/kernel_read.cc",
        "native/freed_frames.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-fexceptions", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
