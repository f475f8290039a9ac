{
  "targets": [
    {
      "target_name": "convmixer_native",
      "sources": ["native/addon.cc", "native/gemm.cc", "native/gemm_bf16.cc", "native/depthwise.cc", "native/elementwise.cc", "native/fused.cc",
                  "native/pool.cc", "native/resize.cc", "native/layout.cc", "native/pointwise.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-ffast-math", "-fno-finite-math-only", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
