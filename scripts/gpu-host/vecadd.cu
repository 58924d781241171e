// A vector sum checked element by element: prints "PASS: …" on the GPU it ran on, exits 0 only when every sum is right.
#include <cstdio>
#include <cuda_runtime.h>
__global__ void add(const float *a, const float *b, float *c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
int main() {
  const int n = 1 << 20;
  float *a, *b, *c;
  cudaError_t e = cudaMallocManaged(&a, n * sizeof(float));
  if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  cudaMallocManaged(&b, n * sizeof(float)); cudaMallocManaged(&c, n * sizeof(float));
  for (int i = 0; i < n; i++) { a[i] = i; b[i] = 2.0f * i; }
  add<<<(n + 255) / 256, 256>>>(a, b, c, n);
  e = cudaDeviceSynchronize();
  if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  for (int i = 0; i < n; i++) if (c[i] != 3.0f * i) { printf("FAIL at %d: %f\n", i, c[i]); return 1; }
  cudaDeviceProp p; cudaGetDeviceProperties(&p, 0);
  printf("PASS: %d sums right on %s\n", n, p.name);
  return 0;
}
