# The published SegRefiner model (LR and HR checkpoints share it): an ADM-style
# U-Net of base width 128 (118,604,673 parameters) predicting mask logits, the
# discrete mask diffusion with T = 6 steps, BCE + 5 x texture loss.
# Input side 256; test_cfg.mode 'model' refines inputs already at 256x256
# (the instance / semantic test configs switch the mode and add their refiner).
model = dict(
    type='SegRefiner',
    data_preprocessor=dict(
        type='RefinerDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    denoiser=dict(
        type='DenoiseUNet',
        in_channels=4,
        out_channels=1,
        model_channels=128,
        num_res_blocks=2,
        num_heads=4,
        num_heads_upsample=-1,
        attention_strides=(16, 32),
        learn_time_embd=True,
        channel_mult=(1, 1, 2, 2, 4, 4),
        dropout=0.0,
        num_timesteps=6,  # must equal diffusion.num_timesteps
        norm_groups=32),
    diffusion=dict(type='DiscreteMaskDiffusion', num_timesteps=6, start=0.8, end=0.0),
    loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
    loss_texture=dict(type='TextureLoss', loss_weight=5.0),
    model_size=256,
    test_cfg=dict(mode='model', seed=None))
