from setuptools import find_packages, setup

setup(
    name='d2l_deepfm',
    version='0.1.0',
    description='The "Deep Factorization Machines" section of Dive into Deep Learning (MXNet/Gluon), '
                'runnable, correct and fast',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['d2l_deepfm', 'd2l_deepfm.*']),
    # the compiled operators' sources: built on first use (d2l_deepfm/kernels/loader.py)
    package_data={'d2l_deepfm.kernels': ['*.cc']},
    entry_points={'console_scripts': ['d2l-deepfm = d2l_deepfm.cli:main']},
    python_requires='>=3.8,<3.12',
    # mxnet 1.9.1 (the last release) needs numpy < 1.24; d2l 1.0.3 pins the rest of this stack.
    install_requires=[
        'mxnet==1.9.1',
        'd2l==1.0.3',
        'numpy==1.23.5',
        'pandas==2.0.3',
        'matplotlib==3.7.2',
        'scipy==1.10.1',
        'contourpy<1.3',
        'ipython<9',
        'scikit-learn>=1.3,<=1.7.2',
        'tqdm>=4.60',
        'requests>=2.31',
        # export (serving/): the ONNX graph and its check; versions verified with numpy 1.23.5
        'onnx==1.23.2',
        'onnxruntime==1.32.0',
    ],
    extras_require={
        'test': ['pytest>=7', 'nbclient>=0.9', 'nbformat>=5', 'ipykernel>=6', 'papermill>=2.5'],
        # benchmarks/throughput.py's PyTorch DeepFM (optional: skipped when torch is missing)
        'bench': ['torch>=2'],
    },
)
