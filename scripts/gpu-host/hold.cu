// Allocates 1 GiB and keeps a kernel running for the seconds it is given (default 30): prints READY, then DONE.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cuda_runtime.h>
__global__ void spin(float *p, long long cycles) {
  long long start = clock64();
  while (clock64() - start < cycles) p[threadIdx.x] += 1.0f;
}
int main(int argc, char **argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 30;
  float *p;
  cudaError_t e = cudaMalloc(&p, 1ull << 30);
  if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  cudaMemset(p, 0, 1ull << 30);
  cudaDeviceSynchronize();
  printf("READY: 1 GiB allocated, spinning for %d s\n", seconds); fflush(stdout);
  time_t end = time(nullptr) + seconds;
  while (time(nullptr) < end) {
    spin<<<132, 256>>>(p, 200000000LL);
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  }
  cudaFree(p);
  printf("DONE\n");
  return 0;
}
