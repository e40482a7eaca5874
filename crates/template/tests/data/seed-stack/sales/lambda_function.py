# The published layout kept this function's Python code in this folder. The fixture keeps the
# folder so that its CodeUri resolves; the code itself is not part of the published stacks.
